//! Size limits of the contract. The broker and both ends refuse MQTT packets over
//! [`MAX_PACKET`]; everything a site or the central office sends is kept under
//! [`MAX_PAYLOAD`] by construction: echoed ids and reasons are clipped to
//! [`MAX_TEXT`], long lists are paged.

use crate::messages::{CommandOutput, CommandResult, Event, OrderOutcome, Outcome, Up};

/// The largest MQTT packet either end sends or accepts (1 MiB).
pub const MAX_PACKET: usize = 1 << 20;

/// The largest payload a message may have: the packet limit less room for the
/// topic, the fixed header and the packet id.
pub const MAX_PAYLOAD: usize = MAX_PACKET - 4096;

/// The longest echoed id or reason text in a message (bytes, UTF-8).
pub const MAX_TEXT: usize = 512;

/// The budget for one page of a long reply (users, vouchers): well under
/// [`MAX_PAYLOAD`], so the envelope and the rest of the reply always fit.
pub const PAGE_BUDGET: usize = 256 * 1024;

/// `text` cut to at most `max` bytes on a character boundary, with `…` marking the cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Lines in one report's `actions` or `warnings` at most.
pub const MAX_LINES: usize = 64;

fn clip_lines(lines: &mut Vec<String>) {
    if lines.len() > MAX_LINES {
        let more = lines.len() - MAX_LINES + 1;
        lines.truncate(MAX_LINES - 1);
        lines.push(format!("… and {more} more"));
    }
    for l in lines.iter_mut() {
        *l = clip(l, MAX_TEXT);
    }
}

/// An up message with every echoed id and free text clipped to [`MAX_TEXT`] and
/// report lines to [`MAX_LINES`]: what a site does before it sends anything, so a
/// huge id or reason in what came down can never make its answer too large.
pub fn fit_up(body: Up) -> Up {
    match body {
        Up::Event(e) => Up::Event(fit_event(e)),
        Up::Alert(e) => Up::Alert(fit_event(e)),
        Up::Report(mut r) => {
            r.subject = clip(&r.subject, MAX_TEXT);
            r.about_msg_id = clip(&r.about_msg_id, MAX_TEXT);
            r.outcome = match r.outcome {
                Outcome::Refused(why) => Outcome::Refused(clip(&why, MAX_TEXT)),
                Outcome::Applied(mut a) => {
                    clip_lines(&mut a.actions);
                    clip_lines(&mut a.warnings);
                    Outcome::Applied(a)
                }
            };
            Up::Report(r)
        }
        Up::Reply(mut r) => {
            r.request_id = clip(&r.request_id, MAX_TEXT);
            r.result = match r.result {
                CommandResult::Err(why) => CommandResult::Err(clip(&why, MAX_TEXT)),
                CommandResult::Ok(CommandOutput::Done(text)) => {
                    CommandResult::Ok(CommandOutput::Done(clip(&text, MAX_TEXT)))
                }
                CommandResult::Ok(CommandOutput::Router(mut st)) => {
                    st.detail = clip(&st.detail, MAX_TEXT);
                    CommandResult::Ok(CommandOutput::Router(st))
                }
                CommandResult::Ok(CommandOutput::Reconciled(mut rr)) => {
                    clip_lines(&mut rr.drift);
                    clip_lines(&mut rr.fixed);
                    CommandResult::Ok(CommandOutput::Reconciled(rr))
                }
                CommandResult::Ok(CommandOutput::VouchersPartly(mut p)) => {
                    p.error = clip(&p.error, MAX_TEXT);
                    CommandResult::Ok(CommandOutput::VouchersPartly(p))
                }
                other => other,
            };
            Up::Reply(r)
        }
        Up::CashCollection(mut c) => {
            c.collection_id = clip(&c.collection_id, 64);
            c.by = clip(&c.by, 64);
            Up::CashCollection(c)
        }
        Up::Order(mut o) => {
            o.order_id = clip(&o.order_id, MAX_TEXT);
            o.outcome = match o.outcome {
                OrderOutcome::Pending(why) => OrderOutcome::Pending(clip(&why, MAX_TEXT)),
                OrderOutcome::Refused(why) => OrderOutcome::Refused(clip(&why, MAX_TEXT)),
                sold => sold,
            };
            Up::Order(o)
        }
        other => other,
    }
}

fn fit_event(mut e: Event) -> Event {
    e.name = clip(&e.name, 64);
    e.detail = clip(&e.detail, MAX_TEXT);
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Reply, Report};

    #[test]
    fn a_report_or_reply_echoing_a_huge_id_fits_a_packet() {
        let huge = "x".repeat(MAX_PACKET - 10);
        let report = fit_up(Up::Report(Report {
            subject: "plans".into(),
            version: 1,
            about_msg_id: huge.clone(),
            outcome: Outcome::Refused(huge.clone()),
        }));
        let reply = fit_up(Up::Reply(Reply {
            request_id: huge.clone(),
            result: CommandResult::Err(huge),
        }));
        for m in [report, reply] {
            let n = postcard::to_stdvec(&m).unwrap().len();
            assert!(n < 4 * MAX_TEXT, "{n} bytes");
        }
    }

    #[test]
    fn clipping_keeps_short_text_and_cuts_long_text_on_a_character_boundary() {
        assert_eq!(clip("abc", 10), "abc");
        let long = "é".repeat(1000);
        let cut = clip(&long, MAX_TEXT);
        assert!(cut.len() <= MAX_TEXT && cut.ends_with('…'), "{}", cut.len());
        assert_eq!(clip("abcdef", 4), "a…");
    }
}
