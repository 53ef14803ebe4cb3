//! The kiosk a customer uses: coin acceptors, printer, display, buttons and their state machine.
