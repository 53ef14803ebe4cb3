//! The local SQLite store: schema, migrations, one file per table family.
