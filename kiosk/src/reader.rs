//! Card readers. Each yields card UIDs as they are read; `None` means the
//! reader has nothing more (a simulator script ended, stdin closed).
//!
//! - `simulate:FILE`: a script in pn532emu's syntax — `tap UID`, `sleep
//!   SECONDS`, `#` comments — for tests and demonstrations.
//! - `wedge[:FILE]`: a keyboard-wedge reader that types each card and
//!   Enter, read from stdin or a device file. With `--wedge-format` the
//!   reader types a decimal number (`4-msb`, `4-lsb`, `7-msb`, ...);
//!   without, hex.
//! - `nfc[:CONNSTRING]`: libnfc (cargo feature `nfc`, see `crate::nfc`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use lectern_domain::{ByteOrder, CardUid, WedgeFormat};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Which reader, from `--reader`.
#[derive(Debug, Clone)]
pub enum Source {
    Simulate(PathBuf),
    Wedge(Option<PathBuf>),
    /// libnfc, by connection string (`pn532_uart:/dev/ttyUSB0`), or its
    /// first device.
    Nfc(Option<String>),
}

impl std::str::FromStr for Source {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Source> {
        match s.split_once(':') {
            Some(("simulate", file)) if !file.is_empty() => Ok(Source::Simulate(file.into())),
            None if s == "wedge" => Ok(Source::Wedge(None)),
            Some(("wedge", file)) if !file.is_empty() => Ok(Source::Wedge(Some(file.into()))),
            None if s == "nfc" => Ok(Source::Nfc(None)),
            Some(("nfc", conn)) if !conn.is_empty() => Ok(Source::Nfc(Some(conn.to_owned()))),
            _ => bail!(
                "unknown reader {s:?}: use simulate:FILE, wedge, wedge:DEVICE, nfc or \
                 nfc:CONNSTRING (e.g. nfc:pn532_uart:/dev/ttyUSB0)"
            ),
        }
    }
}

/// Parses `--wedge-format`: `BYTES-msb` or `BYTES-lsb`.
pub fn wedge_format(s: &str) -> Result<WedgeFormat> {
    let bad = || {
        anyhow!("wedge format {s:?} is not BYTES-msb or BYTES-lsb (BYTES: 4, 7 or 10), e.g. 4-lsb")
    };
    let (bytes, order) = s.split_once('-').ok_or_else(bad)?;
    let uid_bytes: u8 = bytes.parse().map_err(|_| bad())?;
    if !matches!(uid_bytes, 4 | 7 | 10) {
        return Err(bad());
    }
    let byte_order = match order {
        "msb" => ByteOrder::MsbFirst,
        "lsb" => ByteOrder::LsbFirst,
        _ => return Err(bad()),
    };
    Ok(WedgeFormat {
        uid_bytes,
        byte_order,
    })
}

/// One line of a simulator script.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Tap(CardUid),
    Sleep(Duration),
}

fn script(text: &str, file: &str) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        let at = || format!("{file}, line {}", n + 1);
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["tap", uid, ..] => steps.push(Step::Tap(CardUid::parse(uid).with_context(at)?)),
            ["sleep", seconds] => {
                let s: f64 = seconds
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| anyhow!("{}: {seconds:?} is not a number of seconds", at()))?;
                steps.push(Step::Sleep(Duration::from_secs_f64(s)));
            }
            _ => bail!(
                "{}: expected `tap UID` or `sleep SECONDS`, found {line:?}",
                at()
            ),
        }
    }
    Ok(steps)
}

/// An open reader.
pub enum Reader {
    Script(std::vec::IntoIter<Step>),
    Lines {
        lines: tokio::io::Lines<BufReader<Box<dyn tokio::io::AsyncRead + Unpin + Send>>>,
        format: Option<WedgeFormat>,
    },
    #[cfg(feature = "nfc")]
    Nfc(tokio::sync::mpsc::Receiver<CardUid>),
}

impl Reader {
    /// Opens the reader; a libnfc reader reports what keeps it from
    /// reading (unplugged, not found) to `faults` as it goes.
    pub async fn open(
        source: &Source,
        format: Option<WedgeFormat>,
        faults: Arc<crate::Faults>,
    ) -> Result<Reader> {
        #[cfg(not(feature = "nfc"))]
        let _ = faults;
        Ok(match source {
            Source::Simulate(path) => {
                let text = tokio::fs::read_to_string(path)
                    .await
                    .with_context(|| format!("cannot read the script {}", path.display()))?;
                Reader::Script(script(&text, &path.display().to_string())?.into_iter())
            }
            Source::Wedge(path) => {
                let input: Box<dyn tokio::io::AsyncRead + Unpin + Send> = match path {
                    None => Box::new(tokio::io::stdin()),
                    Some(p) => Box::new(
                        tokio::fs::File::open(p)
                            .await
                            .with_context(|| format!("cannot open the reader {}", p.display()))?,
                    ),
                };
                Reader::Lines {
                    lines: BufReader::new(input).lines(),
                    format,
                }
            }
            #[cfg(feature = "nfc")]
            Source::Nfc(connstring) => Reader::Nfc(crate::nfc::start(connstring.clone(), faults)),
            #[cfg(not(feature = "nfc"))]
            Source::Nfc(_) => bail!(
                "this lectern-kiosk was built without libnfc readers; build it with \
                 `--features nfc` (needs libnfc-dev and libclang-dev)"
            ),
        })
    }

    /// The next card read; `Ok(None)` at the end of input. A line a wedge
    /// reader typed that is not a card is reported and skipped.
    pub async fn next(&mut self) -> Result<Option<CardUid>> {
        match self {
            Reader::Script(steps) => {
                for step in steps.by_ref() {
                    match step {
                        Step::Sleep(d) => tokio::time::sleep(d).await,
                        Step::Tap(card) => return Ok(Some(card)),
                    }
                }
                Ok(None)
            }
            Reader::Lines { lines, format } => loop {
                let Some(line) = lines.next_line().await? else {
                    return Ok(None);
                };
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let card = match format {
                    Some(f) => CardUid::from_decimal(line, *f),
                    None => CardUid::parse(line),
                };
                match card {
                    Ok(card) => return Ok(Some(card)),
                    Err(e) => tracing::warn!("the reader typed something that is not a card: {e}"),
                }
            },
            #[cfg(feature = "nfc")]
            Reader::Nfc(cards) => Ok(cards.recv().await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_sources_are_read_or_refused_by_name() {
        let steps = script(
            "# taps\ntap 04A1B2C3 0.5\nsleep 0.25\n\ntap deadbeef\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            steps,
            [
                Step::Tap(CardUid::parse("04A1B2C3").unwrap()),
                Step::Sleep(Duration::from_millis(250)),
                Step::Tap(CardUid::parse("DEADBEEF").unwrap()),
            ]
        );
        let e = script("tap 04A1\n", "t.txt").unwrap_err();
        assert!(format!("{e:#}").contains("t.txt, line 1"), "{e:#}");
        let e = script("sleep soon\n", "t").unwrap_err();
        assert!(e.to_string().contains("\"soon\" is not a number"), "{e}");
        let e = script("wave 04A1B2C3\n", "t").unwrap_err();
        assert!(e.to_string().contains("expected `tap UID`"), "{e}");
        assert!(matches!("wedge".parse::<Source>(), Ok(Source::Wedge(None))));
        assert!(matches!(
            "simulate:a.txt".parse::<Source>(),
            Ok(Source::Simulate(_))
        ));
        assert!(matches!(
            "nfc:pn532_uart:/dev/ttyUSB0".parse::<Source>(),
            Ok(Source::Nfc(Some(c))) if c == "pn532_uart:/dev/ttyUSB0"
        ));
        let e = "usb".parse::<Source>().unwrap_err();
        assert!(e.to_string().contains("unknown reader \"usb\""), "{e}");
        assert_eq!(
            wedge_format("4-lsb").unwrap(),
            WedgeFormat {
                uid_bytes: 4,
                byte_order: ByteOrder::LsbFirst
            }
        );
        assert!(wedge_format("5-lsb").is_err());
    }
}
