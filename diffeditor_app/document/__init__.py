"""The editing session: images, masks, points, layers, results, and the undo commands that
are the only way to change them. Imports engine types, QtCore for signals and QtGui only for
QUndoStack / QUndoCommand; never widgets."""
