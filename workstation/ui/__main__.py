"""``python -m workstation.ui [TRIAL_FOLDER]``: the workstation, as ``recist-workstation`` starts it."""

import sys

from workstation.ui.app import main

sys.exit(main())
