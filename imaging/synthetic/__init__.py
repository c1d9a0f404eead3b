"""Synthetic CT for the sample trial: realistic anatomy and lesions with exact ground truth (numpy + pydicom only).

`generate_trial` writes the whole sample trial (see docs/sample-trial.md); `generate_subject` gives one subject in
memory (``small=True`` for fast tests).
"""

from imaging.synthetic.generator import DEFAULT_SEED, SyntheticSubject, generate_subject, generate_trial, write_subject

__all__ = ["DEFAULT_SEED", "SyntheticSubject", "generate_subject", "generate_trial", "write_subject"]
