"""The application: Qt-free state and services (reads, storage, audit, review, export); GUI in `workstation.ui`."""
