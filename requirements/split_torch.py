"""Move torch's entry (its pin and hashes) out of a lock file into a file of its own.

    python3 requirements/split_torch.py LOCK TORCH_LOCK

The rest of LOCK still pins what torch needs; installing TORCH_LOCK and LOCK together gives
exactly the locked set, and a CUDA build of torch installed first can stand in for TORCH_LOCK.
"""

import re
import sys
from pathlib import Path

ENTRY = re.compile(r"^torch==\S+(?: \\\n(?:    .*\n)*?    --hash=\S+)?\n(?:    #.*\n)*", re.M)


def main(lock: Path, torch_lock: Path) -> None:
    text = lock.read_text()
    entries = ENTRY.findall(text)
    if len(entries) != 1:
        sys.exit(f"split_torch.py: {len(entries)} torch entries in {lock}, expected 1")
    header = "".join(line + "\n" for line in text.splitlines()[:2])
    pin = re.sub(r"\n    #.*", "", entries[0])
    together = lock.name.replace("-dev.txt", "-app.txt or ") + lock.name
    torch_lock.write_text(header + pin + f"    # installed with {together}\n")
    lock.write_text(ENTRY.sub("", text))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
