"""RECIST 1.1 and iRECIST response criteria, pure Python (standard library only).

The endpoints module (`recist.endpoints`) alone uses scipy and lifelines.
"""
