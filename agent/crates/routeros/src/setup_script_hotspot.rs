//! The set-up script's hotspot steps: the board's own way past the hotspot, and the
//! checks that make a ticket's login address and QR code work on this hotspot.
//!
//! Facts from the RouterOS hotspot manual: a host on the hotspot LAN that is not
//! logged in is sent to `hs-unauth` like any customer unless an `ip-binding` of
//! `type=bypassed` names it; the login servlet takes a plain `password` only when the
//! server profile's `login-by` has `http-pap`, while with `http-chap` (the default) the
//! login page must first hash the password with the router's challenge.

use std::fmt::Write as _;

use super::{quote, LoginBy, SetupOptions};

/// The comment that marks the agent's ip-binding, so a second run finds it.
pub(crate) const BINDING_COMMENT: &str = "hotspot-agent board";

/// 6. The board bypasses the hotspot.
pub(super) fn bypass_step(out: &mut String, opts: &SetupOptions) {
    let address = opts.agent_address.to_string();
    let comment = quote(BINDING_COMMENT);
    if !opts.bypass_agent {
        let _ = writeln!(
            out,
            "# 6. No hotspot bypass for the board (--no-bypass): it must reach the router some"
        );
        let _ = writeln!(out, "#    other way (another interface, or its own login).");
        let _ = writeln!(out);
        return;
    }
    let _ = writeln!(
        out,
        "# 6. The board is on the hotspot LAN: without a bypass the hotspot treats it as a"
    );
    let _ = writeln!(
        out,
        "#    customer who has not logged in and cuts it off from the router."
    );
    let _ = writeln!(
        out,
        ":if ([:len [/ip hotspot ip-binding find comment={comment}]] = 0) do={{ /ip hotspot ip-binding add address={address} type=bypassed comment={comment} }}"
    );
    let _ = writeln!(
        out,
        "/ip hotspot ip-binding set [find comment={comment}] address={address} type=bypassed"
    );
    let _ = writeln!(out);
}

/// 7. The hotspot profile's `dns-name` and `login-by`, per hotspot server.
pub(super) fn login_step(out: &mut String, opts: &SetupOptions) {
    let dns = quote(&opts.dns_name);
    let _ = writeln!(
        out,
        "# 7. Tickets print http://{}/login and a QR code that logs in with the password in",
        opts.dns_name
    );
    let _ = writeln!(
        out,
        "#    the address. The hotspot profile's dns-name must be that name ([[router]] dns_name)."
    );
    let _ = writeln!(
        out,
        "#    The QR works only when login-by has http-pap, which sends the password in plain"
    );
    let _ = writeln!(
        out,
        "#    text: on an open WiFi anyone nearby can read a code and use the rest of its time."
    );
    let _ = writeln!(
        out,
        "#    With http-chap alone (the default) customers type the code on the login page."
    );
    let servers = if opts.hotspot_server == "all" {
        "[/ip hotspot find]".to_string()
    } else {
        format!("[/ip hotspot find name={}]", quote(&opts.hotspot_server))
    };
    let _ = writeln!(out, ":foreach s in={servers} do={{");
    let _ = writeln!(out, "    :local p [/ip hotspot get $s profile]");
    let _ = writeln!(
        out,
        "    :local dns [/ip hotspot profile get [find name=$p] dns-name]"
    );
    if opts.set_dns_name {
        let _ = writeln!(
            out,
            "    :if ($dns != {dns}) do={{ /ip hotspot profile set [find name=$p] dns-name={dns}; :put (\"hotspot profile \" . $p . \": dns-name set to \" . {dns}) }}"
        );
    } else {
        let _ = writeln!(
            out,
            "    :if ($dns != {dns}) do={{ :put (\"WARNING: hotspot profile \" . $p . \" has dns-name=\" . $dns . \" but tickets print \" . {dns} . \": set [[router]] dns_name to it, or make the script with --set-dns-name\") }}"
        );
    }
    let _ = writeln!(
        out,
        "    :local by [/ip hotspot profile get [find name=$p] login-by]"
    );
    match opts.login_by {
        LoginBy::Check => {
            let _ = writeln!(
                out,
                "    :if ([:typeof [:find $by \"http-pap\"]] = \"nil\") do={{ :put (\"WARNING: hotspot profile \" . $p . \" has no http-pap in login-by: the ticket's QR will not log in; customers type the code (or make the script with --login-by add-pap)\") }}"
            );
        }
        LoginBy::AddPap => {
            let _ = writeln!(
                out,
                "    :if ([:typeof [:find $by \"http-pap\"]] = \"nil\") do={{ /ip hotspot profile set [find name=$p] login-by=($by, \"http-pap\"); :put (\"hotspot profile \" . $p . \": http-pap added to login-by\") }}"
            );
        }
    }
    let _ = writeln!(out, "}}");
    let _ = writeln!(out);
}
