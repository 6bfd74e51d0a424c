//! A small campus behind the schema, and callers of every role.

use chrono::NaiveDate;
use lectern_domain::{Campus, Clock, StaffNo, UnitId};
use lectern_graphql::{Api, Caller, LecternSchema, Principal, Tokens, build_schema};
use lectern_projections::{Options, Projections, ReadDb};
use lectern_store::testkit::TestDb;
use serde_json::{Value, json};

pub struct TestApi {
    pub api: Api,
    pub schema: LecternSchema,
    /// The server's clock: it reads the real time until a test sets it.
    pub clock: Clock,
    _db: TestDb,
}

pub fn admin() -> Caller {
    caller(Principal::Administrator, Some("A0001"))
}

/// The union chair of school-cs (in cs-dept).
pub fn chair() -> Caller {
    let unit = UnitId::parse("school-cs").unwrap();
    caller(Principal::UnionChair { unit }, Some("C0001"))
}

pub fn auditor() -> Caller {
    caller(Principal::Auditor, Some("M0001"))
}

/// A teacher of cs-dept.
pub fn staff() -> Caller {
    let person = StaffNo::parse("S0001").unwrap();
    caller(Principal::Staff { person }, Some("S0001"))
}

/// A teacher of math-dept.
pub fn other_staff() -> Caller {
    let person = StaffNo::parse("M0001").unwrap();
    caller(Principal::Staff { person }, Some("M0001"))
}

pub fn kiosk() -> Caller {
    caller(
        Principal::Kiosk {
            kiosk: "hall-a-1".into(),
        },
        None,
    )
}

fn caller(principal: Principal, person: Option<&str>) -> Caller {
    Caller {
        principal,
        person: person.map(|p| StaffNo::parse(p).unwrap()),
        token_id: "test".into(),
    }
}

/// The session organised by cs-dept and the one by math-dept.
pub const CS_SESSION: &str = "0195f000-0000-7000-8000-00000000c5c5";
pub const MATH_SESSION: &str = "0195f000-0000-7000-8000-0000000a7a7a";

impl TestApi {
    pub async fn new(db: TestDb) -> TestApi {
        let store = db.store_with(lectern_projections::store_options()).await;
        let read = ReadDb::connect(&db.url).await.unwrap();
        let projections = Projections::start(store.clone(), read.clone(), Options::default())
            .await
            .unwrap();
        let tokens = Tokens::new(read);
        let clock = Clock::manual(chrono::Utc::now());
        let app = lectern_app::App {
            clock: clock.clone(),
            ..lectern_app::App::new(store, projections, Campus::default())
        };
        let api = Api::new(app, tokens);
        TestApi {
            schema: build_schema(api.clone()),
            api,
            clock,
            _db: db,
        }
    }

    /// Sets the server's clock to `hour:minute` campus time on `day`.
    pub fn set_clock(&self, day: NaiveDate, hour: u32, minute: u32) {
        let at = Campus::default()
            .at(
                day,
                chrono::NaiveTime::from_hms_opt(hour, minute, 0).unwrap(),
            )
            .unwrap();
        self.clock.set(at);
    }

    /// Runs a request; returns the whole response as JSON.
    pub async fn run(&self, caller: Option<Caller>, query: &str, variables: Value) -> Value {
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        let response = lectern_graphql::execute(&self.schema, &self.api, request, caller).await;
        serde_json::to_value(response).unwrap()
    }

    /// Runs a request that must succeed; returns `data`.
    pub async fn ok(&self, caller: Caller, query: &str, variables: Value) -> Value {
        let r = self.run(Some(caller), query, variables).await;
        assert!(r.get("errors").is_none(), "{query}: {r}");
        r["data"].clone()
    }

    /// Runs a request that must fail; returns the first error's code and
    /// message.
    pub async fn err(
        &self,
        caller: Option<Caller>,
        query: &str,
        variables: Value,
    ) -> (String, String) {
        let r = self.run(caller, query, variables).await;
        let e = &r["errors"][0];
        assert!(!e.is_null(), "{query} should fail: {r}");
        (
            e["extensions"]["code"]
                .as_str()
                .unwrap_or("<none>")
                .to_owned(),
            e["message"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// uni > school-cs > cs-dept, uni > school-math > math-dept; an
    /// administrator, the chair of school-cs, two teachers; a session of
    /// each department next week.
    pub async fn campus(db: TestDb) -> TestApi {
        let t = TestApi::new(db).await;
        for (id, kind, parent) in [
            ("uni", "university", None),
            ("school-cs", "school", Some("uni")),
            ("cs-dept", "department", Some("school-cs")),
            ("school-math", "school", Some("uni")),
            ("math-dept", "department", Some("school-math")),
        ] {
            t.ok(
                admin(),
                "mutation($id: String!, $kind: UnitKind!, $parent: String) {
                   establishUnit(id: $id, name: $id, kind: $kind, parent: $parent) { position }
                 }",
                json!({ "id": id, "kind": kind, "parent": parent }),
            )
            .await;
        }
        for (no, name, unit, card) in [
            ("A0001", "管理员", "uni", "04A1B2C3"),
            ("C0001", "陈主席", "cs-dept", "04A1B2C4"),
            ("S0001", "王小明", "cs-dept", "04A1B2C5"),
            ("M0001", "李数学", "math-dept", "04A1B2C6"),
        ] {
            t.ok(
                admin(),
                "mutation($no: String!, $name: String!, $unit: String!, $card: String!) {
                   registerPerson(input: { staffNo: $no, name: $name, unit: $unit,
                     category: teacher, birthDate: \"1980-03-04\", hireDate: \"2005-09-01\" })
                   { position }
                   issueCard(staffNo: $no, uid: $card) { position }
                 }",
                json!({ "no": no, "name": name, "unit": unit, "card": card }),
            )
            .await;
        }
        let start = chrono::Utc::now() + chrono::Duration::days(7);
        for (id, unit) in [(CS_SESSION, "cs-dept"), (MATH_SESSION, "math-dept")] {
            t.ok(
                admin(),
                "mutation($input: ScheduleSessionInput!) {
                   scheduleSession(input: $input) { position }
                 }",
                json!({ "input": {
                    "id": id, "kind": "centralized_study", "title": "周二集中学习",
                    "organiser": unit, "venue": "hall-a",
                    "startsAt": start.to_rfc3339(),
                    "endsAt": (start + chrono::Duration::minutes(90)).to_rfc3339(),
                    "audienceUnits": [unit],
                }}),
            )
            .await;
        }
        t
    }
}
