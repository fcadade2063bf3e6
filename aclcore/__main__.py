"""``python -m aclcore`` runs the ``acl`` command."""

from aclcore.cli import main

raise SystemExit(main())
