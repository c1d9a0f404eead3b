"""The PyQt6 + pyqtgraph view: widgets subscribe to `workstation` state and call its services."""
