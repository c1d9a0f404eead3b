"""Dialogs for sign-in, electronic signatures, amendment reasons and adjudication (Qt; logic in workstation.review)."""

from workstation.ui.review.adjudication import AdjudicationDialog
from workstation.ui.review.login import LoginDialog
from workstation.ui.review.signature import ReasonDialog, SignatureDialog

__all__ = ["AdjudicationDialog", "LoginDialog", "ReasonDialog", "SignatureDialog"]
