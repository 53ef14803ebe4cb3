//! Monitoring: users joined with the cache for `users list`, and `stats`.
