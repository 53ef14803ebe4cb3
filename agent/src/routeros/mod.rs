//! Talking to MikroTik RouterOS.
