"""Faces: dlib's 68 landmarks (the optional face extra), similarity alignment of a reference
face, Face-Aware-Liquify-like sliders and the square working crop of the face task. Plain
numpy; no model work and no Qt here.
"""
