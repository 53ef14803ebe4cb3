//! The link to the central office over MQTT: messages, outbox pump, commands, signatures.
