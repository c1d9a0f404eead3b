"""The application: Qt-free state and services (reads, storage, audit, review, export); the GUI lives in `workstation.ui`."""
