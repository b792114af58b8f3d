import sys
from pathlib import Path

# Test helpers (caselog.py, rich_workbook.py, fakesheets/) import as top-level modules.
sys.path.insert(0, str(Path(__file__).parent))
