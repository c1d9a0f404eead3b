"""Qt-free reading state: worklist, reading session, undo/redo, measuring and follow-up services.

Views in `workstation.ui` subscribe to the events of these objects and call their methods; views never talk to
each other.
"""

from workstation.session.commands import CommandStack
from workstation.session.events import Event
from workstation.session.reading import ReadingSession

__all__ = ["CommandStack", "Event", "ReadingSession"]
