//! The kiosk's full-screen display (ratatui): venue and clock, the current
//! session and its time, checked-in count against expected, the last
//! result in a large coloured panel (green: checked in; amber: late or
//! already; red: refused), and the connection with the taps waiting.
//! Everything is said in Chinese and English.

use chrono::{DateTime, Utc};
use lectern_domain::Campus;
use lectern_kiosk_protocol::Outcome;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Text};
use ratatui::widgets::{Block, BorderType, Paragraph, Wrap};

use crate::text;

/// The session on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct OnScreenSession {
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub checked_in: usize,
    /// Zero for an open session (anyone may come).
    pub expected: usize,
}

/// The last tap's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub outcome: Outcome,
    pub name: Option<String>,
    pub at: DateTime<Utc>,
}

/// Everything the screen shows.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub venue: String,
    pub now: DateTime<Utc>,
    pub session: Option<OnScreenSession>,
    pub last: Option<Shown>,
    pub link: Connection,
    pub backlog: u64,
    /// Why the card reader cannot be used (unplugged, not found).
    pub reader_fault: Option<String>,
    /// Why the queue cannot be written (a full or read-only disk).
    pub disk_fault: Option<String>,
}

/// The kiosk's link to the server, as shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// Not tried yet (the kiosk just started).
    Connecting,
    Online,
    Offline,
    /// The server refuses the kiosk's key: it was registered again and
    /// must be enrolled with the new code.
    Voided,
}

fn colour(o: Outcome) -> Color {
    match o {
        Outcome::Present => Color::Green,
        Outcome::Late | Outcome::AlreadyCheckedIn | Outcome::Pending => Color::Yellow,
        _ => Color::Red,
    }
}

pub fn render(frame: &mut Frame<'_>, view: &View) {
    let campus = Campus::default();
    let [top, session, result, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(4),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(frame.area());

    let clock = campus
        .local(view.now)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let [venue_area, clock_area] =
        Layout::horizontal([Constraint::Min(10), Constraint::Length(20)]).areas(top);
    frame.render_widget(
        Paragraph::new(format!("场地 Venue: {}", view.venue))
            .style(Style::default().add_modifier(Modifier::BOLD)),
        venue_area,
    );
    frame.render_widget(
        Paragraph::new(clock).alignment(Alignment::Right),
        clock_area,
    );

    let session_text = match &view.session {
        None => Text::from(vec![
            Line::from("现在没有活动"),
            Line::from("No session now"),
        ]),
        Some(s) => {
            let from = campus.local(s.starts_at).format("%H:%M");
            let to = campus.local(s.ends_at).format("%H:%M");
            let count = if s.expected == 0 {
                format!("已签到 Checked in: {}", s.checked_in)
            } else {
                format!("已签到 Checked in: {} / {}", s.checked_in, s.expected)
            };
            Text::from(vec![
                Line::from(format!("{}  {from}–{to}", s.title))
                    .style(Style::default().add_modifier(Modifier::BOLD)),
                Line::from(count),
            ])
        }
    };
    frame.render_widget(
        Paragraph::new(session_text).block(Block::bordered().title(" 活动 Session ")),
        session,
    );

    let (panel, lines) = match &view.last {
        None => (
            Style::default(),
            vec![Line::from("请刷卡"), Line::from("Please tap your card")],
        ),
        Some(shown) => {
            let (zh, en) = text::outcome(shown.outcome);
            let mut lines = Vec::new();
            if let Some(name) = &shown.name {
                lines.push(Line::from(name.clone()));
            }
            lines.push(Line::from(zh));
            lines.push(Line::from(en));
            lines.push(Line::from(
                campus.local(shown.at).format("%H:%M:%S").to_string(),
            ));
            (
                Style::default()
                    .bg(colour(shown.outcome))
                    .fg(Color::Black)
                    .add_modifier(Modifier::BOLD),
                lines,
            )
        }
    };
    let inner_height = result.height.saturating_sub(2) as usize;
    let pad = inner_height.saturating_sub(lines.len()) / 2;
    let mut padded = vec![Line::from(""); pad];
    padded.extend(lines);
    frame.render_widget(
        Paragraph::new(padded)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true })
            .style(panel)
            .block(Block::bordered().border_type(BorderType::Thick)),
        result,
    );

    let link = match view.link {
        Connection::Connecting => Line::from(format!(
            "连接中 Connecting… · 待上传 waiting: {}",
            view.backlog
        )),
        Connection::Online => Line::from(format!("在线 Online · 待上传 waiting: {}", view.backlog)),
        Connection::Offline => Line::from(format!(
            "离线 OFFLINE · 待上传 {} 次刷卡 taps waiting",
            view.backlog
        ))
        .style(Style::default().fg(Color::Black).bg(Color::Red)),
        Connection::Voided => Line::from(format!(
            "需重新注册 RE-ENROL: registered again, use the new code · 待上传 {} taps",
            view.backlog
        ))
        .style(Style::default().fg(Color::White).bg(Color::Red)),
    };
    // A fault of the kiosk's own parts outranks the link: it is what the
    // hall's staff must fix.
    let fault = |(zh, en): (&str, &str), why: &str| {
        Line::from(format!("{zh} {en}: {why}"))
            .style(Style::default().fg(Color::White).bg(Color::Red))
    };
    let link = match (&view.disk_fault, &view.reader_fault) {
        (Some(why), _) => fault(crate::text::DISK_FAULT, why),
        (None, Some(why)) => fault(crate::text::READER_FAULT, why),
        (None, None) => link,
    };
    frame.render_widget(Paragraph::new(link), status);
}

/// The terminal while the kiosk runs: the alternate screen with the
/// cursor hidden, given back as it was when dropped.
pub struct Screen {
    terminal: ratatui::Terminal<ratatui::backend::CrosstermBackend<std::io::Stdout>>,
}

impl Screen {
    pub fn start() -> std::io::Result<Screen> {
        use ratatui::crossterm::{cursor, execute, terminal};
        execute!(
            std::io::stdout(),
            terminal::EnterAlternateScreen,
            cursor::Hide
        )?;
        let terminal =
            ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))?;
        Ok(Screen { terminal })
    }

    pub fn draw(&mut self, view: &View) -> std::io::Result<()> {
        self.terminal.draw(|f| render(f, view)).map(|_| ())
    }

    /// Redraws every cell (what a keyboard-wedge reader echoed goes).
    pub fn clear(&mut self) -> std::io::Result<()> {
        self.terminal.clear()
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        use ratatui::crossterm::{cursor, execute, terminal};
        let _ = execute!(
            std::io::stdout(),
            terminal::LeaveAlternateScreen,
            cursor::Show
        );
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;

    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        // 2008-09-02 (a Tuesday), campus time is UTC+8.
        Utc.with_ymd_and_hms(2008, 9, 2, h - 8, m, 0).unwrap()
    }

    fn view() -> View {
        View {
            venue: "hall-a".into(),
            now: at(14, 20),
            session: Some(OnScreenSession {
                title: "集中学习 Centralized study".into(),
                starts_at: at(14, 30),
                ends_at: at(16, 0),
                checked_in: 12,
                expected: 40,
            }),
            last: None,
            link: Connection::Online,
            backlog: 0,
            reader_fault: None,
            disk_fault: None,
        }
    }

    fn draw(view: &View, width: u16, height: u16) -> Buffer {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| render(f, view)).unwrap();
        terminal.backend().buffer().clone()
    }

    /// The screen's rows as text, and for each character of a row the
    /// cell it starts at (a wide character fills two cells, as on a
    /// terminal).
    fn rows(buffer: &Buffer) -> Vec<(String, Vec<usize>)> {
        let width = buffer.area.width as usize;
        buffer
            .content()
            .chunks(width)
            .map(|row| {
                let (mut line, mut starts, mut skip) = (String::new(), Vec::new(), false);
                for (i, cell) in row.iter().enumerate() {
                    if std::mem::take(&mut skip) {
                        continue;
                    }
                    for c in cell.symbol().chars() {
                        line.push(c);
                        starts.push(i);
                        skip |= c >= '\u{2e80}';
                    }
                }
                (line, starts)
            })
            .collect()
    }

    fn text(buffer: &Buffer) -> String {
        rows(buffer)
            .into_iter()
            .map(|(line, _)| line)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The background colour of the cell where `needle` starts.
    fn bg_of(buffer: &Buffer, needle: &str) -> Color {
        let width = buffer.area.width as usize;
        let (row, (line, starts)) = rows(buffer)
            .into_iter()
            .enumerate()
            .find(|(_, (l, _))| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} not on screen:\n{}", text(buffer)));
        let col = line[..line.find(needle).unwrap()].chars().count();
        buffer.content()[row * width + starts[col]].bg
    }

    #[test]
    fn idle_shows_venue_clock_session_and_count() {
        let screen = text(&draw(&view(), 80, 24));
        for needle in [
            "场地 Venue: hall-a",
            "2008-09-02 14:20:00",
            "集中学习 Centralized study  14:30–16:00",
            "已签到 Checked in: 12 / 40",
            "请刷卡",
            "Please tap your card",
            "在线 Online",
        ] {
            assert!(screen.contains(needle), "{needle:?} missing:\n{screen}");
        }
    }

    #[test]
    fn each_result_has_its_words_and_colour() {
        for (outcome, en, colour) in [
            (Outcome::Present, "Checked in", Color::Green),
            (Outcome::Late, "Checked in late", Color::Yellow),
            (
                Outcome::AlreadyCheckedIn,
                "Already checked in",
                Color::Yellow,
            ),
            (Outcome::UnknownCard, "Card not registered", Color::Red),
            (Outcome::RevokedCard, "Card no longer valid", Color::Red),
            (
                Outcome::NoSessionNow,
                "No session open for check-in now",
                Color::Red,
            ),
            (Outcome::SessionOver, "The session has ended", Color::Red),
            (Outcome::NotOnList, "Not on this session's list", Color::Red),
            (Outcome::Pending, "Recorded, checking", Color::Yellow),
        ] {
            let v = View {
                last: Some(Shown {
                    outcome,
                    name: Some("王小明".into()),
                    at: at(14, 21),
                }),
                ..view()
            };
            let buffer = draw(&v, 80, 24);
            let screen = text(&buffer);
            assert!(screen.contains(en), "{en:?} missing:\n{screen}");
            assert!(screen.contains(text::outcome(outcome).0), "{screen}");
            assert!(
                screen.contains("王小明") && screen.contains("14:21:00"),
                "{screen}"
            );
            assert_eq!(bg_of(&buffer, "王小明"), colour, "{en}");
        }
    }

    #[test]
    fn offline_shows_the_backlog_and_no_session_says_so() {
        let v = View {
            link: Connection::Offline,
            backlog: 37,
            session: None,
            ..view()
        };
        let buffer = draw(&v, 80, 24);
        let screen = text(&buffer);
        assert!(
            screen.contains("离线 OFFLINE · 待上传 37 次刷卡 taps waiting"),
            "{screen}"
        );
        assert_eq!(bg_of(&buffer, "OFFLINE"), Color::Red);
        assert!(screen.contains("No session now"), "{screen}");
        let starting = text(&draw(
            &View {
                link: Connection::Connecting,
                ..view()
            },
            80,
            24,
        ));
        assert!(starting.contains("连接中 Connecting…"), "{starting}");
        assert!(!starting.contains("OFFLINE"), "{starting}");
    }

    #[test]
    fn a_broken_reader_or_disk_is_shown_before_the_link() {
        let v = View {
            reader_fault: Some("no device at /dev/lectern-reader".into()),
            ..view()
        };
        let buffer = draw(&v, 100, 24);
        let screen = text(&buffer);
        assert!(
            screen.contains("读卡器故障 CARD READER FAULT: no device at /dev/lectern-reader"),
            "{screen}"
        );
        assert!(!screen.contains("Online"), "{screen}");
        assert_eq!(bg_of(&buffer, "CARD READER"), Color::Red);
        let v = View {
            disk_fault: Some("database or disk is full".into()),
            ..v
        };
        let screen = text(&draw(&v, 100, 24));
        assert!(
            screen.contains("存储故障，刷卡无法保存 DISK FAULT: taps cannot be saved"),
            "{screen}"
        );
    }

    #[test]
    fn a_voided_kiosk_says_to_enrol_again() {
        let v = View {
            link: Connection::Voided,
            backlog: 3,
            ..view()
        };
        let buffer = draw(&v, 80, 24);
        let screen = text(&buffer);
        assert!(
            screen.contains(
                "需重新注册 RE-ENROL: registered again, use the new code · 待上传 3 taps"
            ),
            "{screen}"
        );
        assert!(!screen.contains("OFFLINE"), "{screen}");
        assert_eq!(bg_of(&buffer, "RE-ENROL"), Color::Red);
    }

    #[test]
    fn a_narrow_screen_keeps_long_chinese_names_whole() {
        let v = View {
            last: Some(Shown {
                outcome: Outcome::Present,
                name: Some("欧阳娜娜".into()),
                at: at(14, 21),
            }),
            session: Some(OnScreenSession {
                expected: 0,
                ..view().session.unwrap()
            }),
            ..view()
        };
        let screen = text(&draw(&v, 40, 16));
        for needle in [
            "欧阳娜娜",
            "签到成功",
            "Checked in",
            "已签到 Checked in: 12",
        ] {
            assert!(screen.contains(needle), "{needle:?} missing:\n{screen}");
        }
        assert!(
            !screen.contains("12 /"),
            "an open session has no expected count"
        );
    }
}
