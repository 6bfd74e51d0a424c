//! What the kiosk says, in Chinese and English.

use lectern_kiosk_protocol::Outcome;

/// Said instead of a result when the queue could not keep the tap.
pub const NOT_SAVED: (&str, &str) = (
    "未能保存，请稍后再刷卡",
    "Not saved: the kiosk's disk cannot take taps; tap again later",
);

/// The status line for a card reader that cannot be used.
pub const READER_FAULT: (&str, &str) = ("读卡器故障", "CARD READER FAULT");

/// The status line for a disk the queue cannot be written to.
pub const DISK_FAULT: (&str, &str) = ("存储故障，刷卡无法保存", "DISK FAULT: taps cannot be saved");

/// The result line for an outcome: (Chinese, English).
pub fn outcome(o: Outcome) -> (&'static str, &'static str) {
    match o {
        Outcome::Present => ("签到成功", "Checked in"),
        Outcome::Late => ("迟到签到", "Checked in late"),
        Outcome::AlreadyCheckedIn => ("已签到", "Already checked in"),
        Outcome::UnknownCard => ("未登记的卡", "Card not registered"),
        Outcome::RevokedCard => ("此卡已停用", "Card no longer valid"),
        Outcome::NoSessionNow => ("现在没有可签到的活动", "No session open for check-in now"),
        Outcome::SessionOver => ("活动已结束", "The session has ended"),
        Outcome::NotOnList => ("不在本次活动名单中", "Not on this session's list"),
        Outcome::Pending => ("已记录，待核对", "Recorded, checking"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_is_said_in_both_languages() {
        use Outcome::*;
        let all = [
            Present,
            Late,
            AlreadyCheckedIn,
            UnknownCard,
            RevokedCard,
            NoSessionNow,
            SessionOver,
            NotOnList,
            Pending,
        ];
        let mut seen = std::collections::HashSet::new();
        for o in all {
            let (zh, en) = outcome(o);
            assert!(zh.chars().any(|c| c > '\u{2e80}'), "{zh}");
            assert!(en.is_ascii() && !en.is_empty());
            assert!(seen.insert(en), "{en} twice");
        }
    }
}
