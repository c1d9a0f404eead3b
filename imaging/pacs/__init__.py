"""PACS access: settings, DICOMweb and DIMSE clients, and the local cache of retrieved images.

    from imaging.pacs import connect, load_settings, LocalCache, StudyQuery
    settings = load_settings()
    with connect(settings.server()) as pacs:
        studies = pacs.find_studies(StudyQuery(patient_id="GC-001"))
        pacs.retrieve(studies[0].study_uid, LocalCache(settings.cache_dir), progress=..., cancel=...)
"""

from imaging.pacs.cache import LocalCache
from imaging.pacs.client import PacsClient, RetrieveResult, StoreResult, connect
from imaging.pacs.errors import (
    PacsConfigError,
    PacsError,
    PacsInputError,
    PacsNotFound,
    PacsProtocolError,
    PacsRefused,
    PacsTimeout,
    PacsUnreachable,
)
from imaging.pacs.query import SeriesResult, StudyQuery, StudyResult
from imaging.pacs.settings import (
    PacsSettings,
    ServerSettings,
    default_cache_dir,
    default_config_path,
    load_settings,
    save_settings,
)

__all__ = [
    "LocalCache",
    "PacsClient",
    "PacsConfigError",
    "PacsError",
    "PacsInputError",
    "PacsNotFound",
    "PacsProtocolError",
    "PacsRefused",
    "PacsSettings",
    "PacsTimeout",
    "PacsUnreachable",
    "RetrieveResult",
    "SeriesResult",
    "ServerSettings",
    "StoreResult",
    "StudyQuery",
    "StudyResult",
    "connect",
    "default_cache_dir",
    "default_config_path",
    "load_settings",
    "save_settings",
]
