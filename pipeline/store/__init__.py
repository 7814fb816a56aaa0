"""The review store: narratives, suggestions, review decisions and the model registry.

SQLite by default, PostgreSQL by URL. Open a transaction with :func:`session_scope` (it creates
or migrates the schema on first use) and call the repository functions inside it::

    with session_scope(url, write=True) as session:
        inserted, present = add_narratives(session, records)
"""

from __future__ import annotations

from pipeline.store.decisions import (
    ImportReport,
    current_codes,
    import_labels,
    new_batch_id,
    record_decision,
)
from pipeline.store.engine import (
    db_url,
    describe_url,
    dispose_engines,
    get_engine,
    normalise_url,
    session_scope,
)
from pipeline.store.inputs import (
    FileCounts,
    InputKey,
    finished_inputs,
    forget_finished_inputs,
    hash_input,
    record_finished_inputs,
)
from pipeline.store.migration import alembic_config, current_revision, ensure_schema, open_store
from pipeline.store.models import (
    METHODS,
    ROLES,
    STATUSES,
    Bundle,
    BundleFile,
    Decision,
    FinishedInput,
    Narrative,
    Promotion,
    Purge,
    Suggestion,
    SuggestionSet,
    User,
    UserPractice,
)
from pipeline.store.narratives import (
    PurgeReport,
    StatusCount,
    StatusSummary,
    add_narratives,
    content_hash,
    purge_narratives,
    status_summary,
)
from pipeline.store.registry import (
    bundle_digest,
    hash_bundle_files,
    promote_bundle,
    promoted_bundle,
    register_bundle,
    verify_bundle,
)
from pipeline.store.suggestions import (
    ScoredCode,
    StoredSuggestions,
    SuggestionLine,
    add_suggestion_sets,
    add_suggestions,
    latest_suggestion_set,
    selected_codes,
)

__all__ = [
    "METHODS",
    "ROLES",
    "STATUSES",
    "Bundle",
    "BundleFile",
    "Decision",
    "FileCounts",
    "FinishedInput",
    "ImportReport",
    "InputKey",
    "Narrative",
    "Promotion",
    "Purge",
    "PurgeReport",
    "ScoredCode",
    "StatusCount",
    "StatusSummary",
    "StoredSuggestions",
    "Suggestion",
    "SuggestionLine",
    "SuggestionSet",
    "User",
    "UserPractice",
    "add_narratives",
    "add_suggestion_sets",
    "add_suggestions",
    "alembic_config",
    "bundle_digest",
    "content_hash",
    "current_codes",
    "current_revision",
    "db_url",
    "describe_url",
    "dispose_engines",
    "ensure_schema",
    "finished_inputs",
    "forget_finished_inputs",
    "get_engine",
    "hash_input",
    "hash_bundle_files",
    "import_labels",
    "latest_suggestion_set",
    "new_batch_id",
    "normalise_url",
    "open_store",
    "promote_bundle",
    "promoted_bundle",
    "purge_narratives",
    "record_finished_inputs",
    "record_decision",
    "register_bundle",
    "selected_codes",
    "session_scope",
    "status_summary",
    "verify_bundle",
]
