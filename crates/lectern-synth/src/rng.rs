//! The one random generator and name table of every synthetic campus.

use lectern_domain::Name;

/// A seeded generator (`fastrand`'s wyrand): the same seed makes the same
/// campus.
pub struct Rng(fastrand::Rng);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(fastrand::Rng::with_seed(seed))
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.0.u64(..n) }
    }

    /// An index into a slice of `len` items.
    pub fn index(&mut self, len: usize) -> usize {
        if len == 0 { 0 } else { self.0.usize(..len) }
    }

    /// True `permille` times in a thousand.
    pub fn chance(&mut self, permille: u64) -> bool {
        self.below(1000) < permille
    }

    /// A Chinese name: a surname and one given character, or two (six
    /// times in ten).
    pub fn chinese_name(&mut self) -> Name {
        let surname = SURNAMES[self.index(SURNAMES.len())];
        let first = GIVEN[self.index(GIVEN.len())];
        let second = if self.chance(600) {
            GIVEN[self.index(GIVEN.len())]
        } else {
            ""
        };
        Name::parse(&format!("{surname}{first}{second}")).expect("a generated name is valid")
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "程", "曹",
    "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕", "欧阳", "司马",
];

const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "军", "涛", "明", "超", "秀", "霞",
    "平", "刚", "桂", "英", "华", "建", "国", "文", "辉", "红", "玉", "兰", "志", "强", "丽", "晓",
    "海", "燕", "鹏", "宇", "婷", "雪", "琳", "浩", "凯", "欣", "悦", "晨", "思", "佳", "博", "昊",
    "颖", "琦", "瑞", "峰", "斌", "倩", "蕾", "东", "亮", "春", "梅", "松",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_makes_the_same_campus_and_numbers_stay_in_range() {
        let (mut a, mut b, mut c) = (Rng::new(7), Rng::new(7), Rng::new(8));
        let names = |r: &mut Rng| (0..50).map(|_| r.chinese_name()).collect::<Vec<_>>();
        let (x, y, z) = (names(&mut a), names(&mut b), names(&mut c));
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert!((0..1000).all(|_| a.below(5) < 5 && a.index(3) < 3));
        assert_eq!((a.below(0), a.index(0)), (0, 0));
        assert!(!(0..1000).any(|_| a.chance(0)) && (0..1000).all(|_| a.chance(1000)));
    }
}
