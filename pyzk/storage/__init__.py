"""pyzk.storage"""

import os as _os

if _os.environ.get("PYZK_TEST_POWERCUT_DIR"):  # test mode only: see powercut.py
    from . import powercut as _powercut

    _powercut.install(_os.environ["PYZK_TEST_POWERCUT_DIR"])
