//! Conditions made ready for one event type when the engine is built.
//!
//! The engine keeps, for each event type, the rules that can match it. Their conditions still check the type
//! they were filed under — `evt.type in (open, openat, openat2)` on every open, or the `or` of six type
//! lists in a rule about removing evidence — and checks of fields that are the same for every event
//! (`evt.dir = <`). Here each condition is specialised to its event type: such checks are decided once,
//! what is left is simplified, and the parts of each `and` and `or` are put cheapest first (the checks have
//! no side effects, so their order changes the time an event takes, never its result).
//!
//! Then the conditions of an event type are compiled into one [`Program`]: each check a step that says where to go
//! when it holds and where when it does not, `and`, `or` and `not` gone into those jumps — an event's evaluation a
//! loop over steps, not a walk down a tree (whose calls and returns were a third of the rules' instructions).

use super::{value_check, Node, Rhs};
use crate::rules::cond::Op;
use crate::rules::fields::{Field, Val, ACCESS_MODES, OPEN_FLAGS};
use crate::rules::fields::{Memo, State};
use kestrel_core::Event;
use std::borrow::Cow;

impl Node {
    /// The condition for events whose `evt.type` is `ty` (`None`: for events of any type), with the checks
    /// of fields known without the event decided, simplified, and ordered cheapest first.
    pub(super) fn specialize(&self, ty: Option<&str>) -> Node {
        let mut n = self.decided(ty, None);
        n.order();
        n
    }

    /// The condition for opens made with access mode `mode` ([`access_mode`]: 0 read-only, 1 write-only, 2 read
    /// and write): as for `openat`, with `evt.is_open_read`, `evt.is_open_write` and the access mode's name in the
    /// flags decided too — a read-only open (most opens of a busy service) skips every rule about writes.
    pub(super) fn specialize_open(&self, mode: usize) -> Node {
        let mut n = self.decided(Some("openat"), Some(mode));
        n.order();
        n
    }

    fn decided(&self, ty: Option<&str>, access: Option<usize>) -> Node {
        match self {
            Node::And(v) => decided_all(v, ty, access, true),
            Node::Or(v) => decided_all(v, ty, access, false),
            Node::Not(n) => match n.decided(ty, access) {
                Node::Const(b) => Node::Const(!b),
                n => Node::Not(Box::new(n)),
            },
            Node::Check { field, transforms, op, rhs } if !matches!(rhs, Rhs::Field(_)) => {
                match (known(field, ty, access), field, rhs) {
                    (Some(v), _, _) => {
                        let v = super::transform(v, transforms);
                        Node::Const(if *op == Op::Exists { v != Val::Missing } else { value_check(v, *op, rhs) })
                    }
                    // An open's flags are named only to be searched: `contains O_TRUNC` asks whether a name
                    // holding that text is among them (text without `|` cannot span two names).
                    (None, Field::EvtArg(a), Rhs::Str(text))
                        if ty == Some("openat")
                            && a == "flags"
                            && transforms.is_empty()
                            && *op == Op::Contains
                            && !text.contains('|') =>
                    {
                        let modes =
                            (0..3).filter(|&i| ACCESS_MODES[i].contains(text.as_str())).fold(0, |m, i| m | 1 << i);
                        let bits =
                            OPEN_FLAGS.iter().filter(|(_, n)| n.contains(text.as_str())).fold(0, |m, (b, _)| m | b);
                        match access {
                            // The access mode's name holds the text: every such open matches.
                            Some(m) if modes >> m & 1 == 1 => Node::Const(true),
                            Some(_) if bits == 0 => Node::Const(false),
                            _ => Node::Check {
                                field: Field::OpenFlagsNamed { modes: if access.is_some() { 0 } else { modes }, bits },
                                transforms: vec![],
                                op: Op::Eq,
                                rhs: Rhs::Bool(true),
                            },
                        }
                    }
                    _ => self.clone(),
                }
            }
            n => n.clone(),
        }
    }

    /// Whether a part of an `and` holds for nearly every event, so that it ends nearly no evaluation: a negation
    /// (an exception), a check that a field exists, differs from a value, or lies on one side of a number
    /// (`proc.name exists`, `container.id != host`, `fd.num >= 0`).
    fn likely_true(&self) -> bool {
        match self {
            Node::Not(_) => true,
            Node::Check { op, .. } => matches!(op, Op::Exists | Op::Ne | Op::Ge | Op::Gt | Op::Le | Op::Lt),
            Node::Shared(_, n) => n.likely_true(),
            _ => false,
        }
    }

    /// Puts the parts of every `and` and `or` cheapest first (a stable sort: equal costs keep the rule's order) —
    /// but an `and`'s parts that are [`likely_true`](Node::likely_true) after its others, whatever they cost: in a
    /// rule a negation is an exception (`and not (proc.name in (apt, dpkg) and …)`), and `fd.num >= 0` or
    /// `proc.name exists` hold for nearly every event, so they end nearly no evaluation, while the positive parts end
    /// most (a database writing its tables is not writing a shell's start-up file). On the lab's held-out load this
    /// took the steps of an open from 12.2 to 8.8 with kestrel's rules, from 60.3 to 45.6 with Falco's.
    fn order(&mut self) {
        match self {
            Node::And(v) => {
                v.iter_mut().for_each(Node::order);
                v.sort_by_cached_key(|n| (n.likely_true(), n.cost()));
            }
            Node::Or(v) => {
                v.iter_mut().for_each(Node::order);
                v.sort_by_cached_key(Node::cost);
            }
            Node::Not(n) => n.order(),
            _ => {}
        }
    }

    /// Makes the checks that more than one place of `rules` (the conditions filed under one event type) makes
    /// into shared ones, numbered from 0; returns how many.
    pub(super) fn share(rules: &mut [(usize, Node)]) -> usize {
        fn each_check(n: &mut Node, f: &mut impl FnMut(&mut Node)) {
            match n {
                Node::And(v) | Node::Or(v) => v.iter_mut().for_each(|n| each_check(n, f)),
                Node::Not(n) | Node::Shared(_, n) => each_check(n, f),
                Node::Check { .. } => f(n),
                Node::Const(_) => {}
            }
        }
        // Checks are told apart by what they compare (a regex by its pattern); the second walk meets them in
        // the order the first did.
        let mut seen: std::collections::HashMap<String, (usize, Option<usize>)> = Default::default();
        let mut met = Vec::new();
        for (_, n) in rules.iter_mut() {
            each_check(n, &mut |c| {
                let key = format!("{c:?}");
                seen.entry(key.clone()).or_insert((0, None)).0 += 1;
                met.push(key);
            });
        }
        let mut next = 0;
        let mut met = met.into_iter();
        for (_, n) in rules.iter_mut() {
            each_check(n, &mut |c| {
                let Some((count, slot)) = met.next().and_then(|key| seen.get_mut(&key)) else { return };
                if *count < 2 {
                    return;
                }
                let slot = *slot.get_or_insert_with(|| {
                    next += 1;
                    next - 1
                });
                let check = std::mem::replace(c, Node::Const(false));
                *c = Node::Shared(slot, Box::new(check));
            });
        }
        next
    }

    /// A rough cost of evaluating the condition, in units of a comparison with a field of the event itself.
    pub(super) fn cost(&self) -> u32 {
        match self {
            Node::Const(_) => 0,
            Node::And(v) | Node::Or(v) => v.iter().map(Node::cost).sum(),
            Node::Not(n) | Node::Shared(_, n) => n.cost(),
            Node::Check { field, transforms, op, rhs } => {
                let compare = match (op, rhs) {
                    (Op::Regex, _) | (Op::IContains | Op::IGlob, _) => 8,
                    (Op::Glob, _) => 3,
                    (_, Rhs::Strs(v)) => 1 + v.len() as u32 / 8,
                    (_, Rhs::Set(_)) => 2,
                    (_, Rhs::Nets(v)) => 2 + v.len() as u32 / 4,
                    (_, Rhs::Field(g)) => 1 + field_cost(g),
                    _ => 1,
                };
                field_cost(field) + compare + 4 * transforms.len() as u32
            }
        }
    }
}

/// The conditions of one event type as a branching program: steps, each a check (or a shared one) with the step to
/// go to when it holds and the one when it does not ([`YES`] and [`NO`]: the condition's result). A condition is an
/// entry step; a step is reached only through the checks its condition makes before it, in the order the tree
/// made them, so an evaluation makes the same checks as the tree's and gives its result.
#[derive(Debug, Clone, Default)]
pub(super) struct Program {
    steps: Vec<Step>,
    /// The checks the steps make, a shared one once however many steps make it: a step is 16 bytes, and a shared
    /// check already made for the event (most steps of most events) is answered from the memo without reading
    /// the check at all — Falco's rule files file 25 rules or so under every open, and their steps no longer
    /// spill out of the first-level cache.
    checks: Vec<Node>,
    /// Each shared check's place in `checks`, while the program is built ([`Program::built`] lets go of it).
    placed: std::collections::HashMap<usize, u32>,
}

#[derive(Debug, Clone, Copy)]
struct Step {
    /// The check's place in [`Program::checks`].
    check: u32,
    /// Its slot in the event's [`Memo`] when it is a shared check; [`UNSHARED`] when not.
    slot: u32,
    then: u32,
    otherwise: u32,
}

/// Where a condition that holds goes.
const YES: u32 = u32::MAX;
/// Where a condition that does not hold goes.
const NO: u32 = u32::MAX - 1;
/// The slot of a step whose check is not shared.
const UNSHARED: u32 = u32::MAX;

impl Program {
    /// Adds a condition; returns its entry step.
    pub(super) fn add(&mut self, n: &Node) -> u32 {
        self.add_to(n, YES, NO)
    }

    /// Adds `n` going on to `yes` when it holds and to `no` when not; returns where to start it. Built from the
    /// end: an `and`'s last part first, which its other parts go on to when they hold.
    fn add_to(&mut self, n: &Node, yes: u32, no: u32) -> u32 {
        match n {
            Node::Const(true) => yes,
            Node::Const(false) => no,
            Node::Not(n) => self.add_to(n, no, yes),
            Node::And(v) => v.iter().rev().fold(yes, |next, n| self.add_to(n, next, no)),
            Node::Or(v) => v.iter().rev().fold(no, |next, n| self.add_to(n, yes, next)),
            leaf => {
                // Far fewer steps, checks and slots than u32's last two values.
                let (check, slot) = match leaf {
                    Node::Shared(slot, check) => {
                        let at = match self.placed.get(slot) {
                            Some(&at) => at,
                            None => {
                                let at = self.place(check);
                                self.placed.insert(*slot, at);
                                at
                            }
                        };
                        (at, u32::try_from(*slot).unwrap_or(UNSHARED))
                    }
                    check => (self.place(check), UNSHARED),
                };
                self.steps.push(Step { check, slot, then: yes, otherwise: no });
                u32::try_from(self.steps.len() - 1).unwrap_or(NO)
            }
        }
    }

    /// The program once every condition is added: what only building it needed is let go of.
    pub(super) fn built(mut self) -> Program {
        self.placed = Default::default();
        self.steps.shrink_to_fit();
        self.checks.shrink_to_fit();
        self
    }

    /// Puts a check among the program's; returns its place.
    fn place(&mut self, check: &Node) -> u32 {
        self.checks.push(check.clone());
        u32::try_from(self.checks.len() - 1).unwrap_or(u32::MAX)
    }

    /// Whether the condition that starts at `entry` holds for an event.
    #[inline]
    pub(super) fn run<'a>(&self, entry: u32, e: &'a Event, st: &'a State, memo: &Memo<'a>) -> bool {
        let mut at = entry;
        loop {
            let Some(&Step { check, slot, then, otherwise }) = self.steps.get(at as usize) else { return at == YES };
            let make = || self.checks.get(check as usize).is_some_and(|c| c.leaf(e, st, memo));
            let holds = if slot == UNSHARED { make() } else { memo.shared(slot as usize, make) };
            at = if holds { then } else { otherwise };
        }
    }

    /// How many steps.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.steps.len()
    }
}

/// A field's value known without the event, for events of type `ty` (opens made with access mode `access`, when
/// given): the type itself; the fields that are the same for every event; for an open, what its descriptor is — a
/// file's, its number not reported (0, as its return value: what `fd.num` and `evt.rawres` give every open) — and,
/// with the access mode, whether it reads and writes.
fn known<'t>(field: &Field, ty: Option<&'t str>, access: Option<usize>) -> Option<Val<'t>> {
    let open = ty == Some("openat");
    Some(match field {
        Field::EvtType => Val::Str(Cow::Borrowed(ty?)),
        Field::EvtIsOpenRead => Val::Bool(access? != 1),
        Field::EvtIsOpenWrite => Val::Bool(access? != 0),
        Field::FdNum | Field::EvtRawres if open => Val::Num(0),
        // What an open opened is a file (Falco's `fd.typechar = f`, in nearly every rule about files).
        Field::FdTypechar if open => Val::Str(Cow::Borrowed("f")),
        Field::FdType if open => Val::Str(Cow::Borrowed("file")),
        _ => Val::Str(Cow::Borrowed(field.constant()?)),
    })
}

/// An `and` (`unit` true) or an `or` (`unit` false) of parts decided: a part equal to the unit dropped, one equal
/// to its opposite deciding the whole, a nested one of the same kind flattened.
fn decided_all(parts: &[Node], ty: Option<&str>, access: Option<usize>, unit: bool) -> Node {
    let mut kept = Vec::with_capacity(parts.len());
    for n in parts {
        match n.decided(ty, access) {
            Node::Const(b) if b == unit => {}
            Node::Const(b) => return Node::Const(b),
            Node::And(inner) if unit => kept.extend(inner),
            Node::Or(inner) if !unit => kept.extend(inner),
            n => kept.push(n),
        }
    }
    match kept.len() {
        0 => Node::Const(unit),
        1 => kept.pop().unwrap_or(Node::Const(unit)),
        _ if unit => Node::And(kept),
        _ => Node::Or(kept),
    }
}

/// What reading a field costs: the event's own fields least, the process table's a lookup, a path made
/// canonical more, and values built for the check (command lines, flag names, capability lists, ancestors)
/// most.
fn field_cost(f: &Field) -> u32 {
    use Field::*;
    match f {
        EvtType | EvtDir | EvtRes | EvtNum | EvtTime | EvtRawres | EvtIsOpenRead | EvtIsOpenWrite | EvtIsOpenExec
        | ProcPid | ThreadTid | FdNum | ContainerId | ContainerName | ContainerImage | K8sNsName | K8sPodName => 0,
        ProcName | ProcExe | ProcExepath | ProcPpid | ProcVpid | ProcTty | ProcCwd | ProcIsExeFromMemfd | UserUid
        | GroupGid | KestrelRuntimeSetup => 2,
        ProcPname | ProcPexe | ProcPexepath | FdName | FdDirectory | FdFilename | FdTypechar | FdType => 4,
        _ => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(field: Field, op: Op, rhs: Rhs) -> Node {
        Node::Check { field, transforms: vec![], op, rhs }
    }

    fn types(v: &[&str]) -> Rhs {
        Rhs::Strs(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn type_checks_are_decided_for_the_type_and_what_is_left_simplified() {
        let opens = check(Field::EvtType, Op::In, types(&["open", "openat", "openat2"]));
        let written = check(Field::EvtIsOpenWrite, Op::Eq, Rhs::Bool(true));
        let removed = check(Field::EvtType, Op::In, types(&["unlink", "unlinkat"]));
        let below_bin = check(Field::FdDirectory, Op::Eq, Rhs::Str("/bin".into()));
        let cond = Node::And(vec![
            Node::Or(vec![Node::And(vec![opens.clone(), written.clone()]), removed.clone()]),
            below_bin.clone(),
        ]);
        let show = |n: &Node| format!("{n:?}");
        // On an open: the removal branch is gone, the open check true; on an unlink: the open branch is gone.
        assert_eq!(show(&cond.specialize(Some("openat"))), show(&Node::And(vec![written.clone(), below_bin.clone()])));
        assert_eq!(show(&cond.specialize(Some("unlinkat"))), show(&below_bin));
        assert!(matches!(cond.specialize(Some("connect")), Node::Const(false)));
        // For any type the type checks stay.
        assert!(show(&cond.specialize(None)).contains("EvtType"));
        // `not`, `!=`, transformers and the constant fields.
        let not_exec = Node::Not(Box::new(check(Field::EvtType, Op::Eq, Rhs::Str("execve".into()))));
        assert!(matches!(not_exec.specialize(Some("openat")), Node::Const(true)));
        assert!(matches!(not_exec.specialize(Some("execve")), Node::Const(false)));
        let upper = Node::Check {
            field: Field::EvtType,
            transforms: vec!["toupper".into()],
            op: Op::Eq,
            rhs: Rhs::Str("OPENAT".into()),
        };
        assert!(matches!(upper.specialize(Some("openat")), Node::Const(true)));
        assert!(matches!(check(Field::EvtDir, Op::Eq, Rhs::Str("<".into())).specialize(None), Node::Const(true)));
        assert!(matches!(
            check(Field::EvtRes, Op::Ne, Rhs::Str("SUCCESS".into())).specialize(None),
            Node::Const(false)
        ));
        // A comparison with another field is left to the event.
        let with_field = check(Field::EvtType, Op::Eq, Rhs::Field(Field::ProcName));
        assert!(matches!(with_field.specialize(Some("openat")), Node::Check { .. }));
    }

    #[test]
    fn searching_an_opens_flag_names_is_decided_on_its_bits_as_on_the_names() {
        use crate::rules::fields::{Memo, State};
        use kestrel_core::{Event, EventKind, EVENT_SCHEMA};
        let st = State::default();
        let texts = ["O_TRUNC", "TRUNC", "O_RDONLY", "RDWR", "WR", "RD", "O_", "_", "", "C", "NOFOLLOW", "O_TMP", "X"];
        for text in texts {
            let cond = check(Field::EvtArg("flags".into()), Op::Contains, Rhs::Str(text.into()));
            let fast = cond.specialize(Some("openat"));
            assert!(matches!(fast, Node::Check { field: Field::OpenFlagsNamed { .. }, .. }), "{text}: {fast:?}");
            // Every access mode with every set of named flags, and bits nobody names.
            for mode in 0..4u32 {
                for set in 0..1u32 << OPEN_FLAGS.len() {
                    let named = OPEN_FLAGS
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| set >> i & 1 == 1)
                        .fold(0, |m, (_, (b, _))| m | b);
                    let flags = mode | named | 0o10000;
                    let e = Event {
                        schema: EVENT_SCHEMA.into(),
                        time_ns: 1,
                        pid: 1,
                        tid: 1,
                        comm: "x".into(),
                        cgroup_id: 0,
                        container: None,
                        process: None,
                        kind: EventKind::Open { path: "/x".into(), flags },
                    };
                    let memo = Memo::default();
                    assert_eq!(fast.eval(&e, &st, &memo), cond.eval(&e, &st, &memo), "{text} on {flags:#o}");
                }
            }
        }
        // Text with `|` spans names: left to the names written out; so are other types' flags.
        let spans = check(Field::EvtArg("flags".into()), Op::Contains, Rhs::Str("O_CREAT|O_TRUNC".into()));
        assert!(matches!(spans.specialize(Some("openat")), Node::Check { field: Field::EvtArg(_), .. }));
        let clone = check(Field::EvtArg("flags".into()), Op::Contains, Rhs::Str("CLONE_NEWNS".into()));
        assert!(matches!(clone.specialize(Some("clone")), Node::Check { field: Field::EvtArg(_), .. }));
    }

    #[test]
    fn checks_made_in_more_than_one_place_are_shared() {
        let name = check(Field::ProcName, Op::Eq, Rhs::Str("nc".into()));
        let other = check(Field::ProcName, Op::Eq, Rhs::Str("sh".into()));
        let tty = check(Field::ProcTty, Op::Ne, Rhs::Num(0));
        let mut rules = vec![
            (0, Node::And(vec![name.clone(), tty.clone()])),
            (1, Node::Or(vec![other.clone(), Node::Not(Box::new(name.clone()))])),
            (2, Node::And(vec![tty.clone(), name.clone()])),
        ];
        assert_eq!(Node::share(&mut rules), 2);
        let show = |n: &Node| format!("{n:?}");
        let shared = |slot, n: &Node| Node::Shared(slot, Box::new(n.clone()));
        assert_eq!(show(&rules[0].1), show(&Node::And(vec![shared(0, &name), shared(1, &tty)])));
        assert_eq!(show(&rules[1].1), show(&Node::Or(vec![other, Node::Not(Box::new(shared(0, &name)))])));
        assert_eq!(show(&rules[2].1), show(&Node::And(vec![shared(1, &tty), shared(0, &name)])));
    }

    #[test]
    fn cheap_checks_go_first_and_equal_costs_keep_their_order() {
        let cmdline = check(Field::ProcCmdline, Op::Contains, Rhs::Str("-e".into()));
        let name = check(Field::ProcName, Op::Eq, Rhs::Str("nc".into()));
        let container = check(Field::ContainerId, Op::Eq, Rhs::Str("web-1".into()));
        let tty = check(Field::ProcTty, Op::Eq, Rhs::Num(34816));
        let cond = Node::And(vec![cmdline.clone(), name.clone(), container.clone(), tty.clone()]);
        let show = |n: &Node| format!("{n:?}");
        assert_eq!(show(&cond.specialize(None)), show(&Node::And(vec![container, name, tty, cmdline])));
    }

    /// Random conditions — `and`s, `or`s and `not`s nested up to four deep over checks of the fields rules read
    /// most, constants, and checks shared between the conditions — each give, compiled into one program, what the
    /// tree gives on every event of a recorded attack, with one step a check.
    #[test]
    fn a_program_gives_what_its_conditions_give() {
        use crate::rng::Rng;
        use crate::rules::fields::State;
        let events = crate::rules::tests::recorded_events();
        let leaves = [
            check(Field::ProcName, Op::In, types(&["sh", "cat", "sleep"])),
            check(Field::ProcName, Op::Eq, Rhs::Str("true".into())),
            check(Field::FdName, Op::StartsWith, Rhs::Str("/dev".into())),
            check(Field::FdDirectory, Op::Eq, Rhs::Str("/tmp".into())),
            check(Field::EvtIsOpenWrite, Op::Eq, Rhs::Bool(true)),
            check(Field::EvtType, Op::Eq, Rhs::Str("execve".into())),
            check(Field::ProcPname, Op::Ne, Rhs::Str("sh".into())),
            check(Field::ContainerId, Op::Ne, Rhs::Str("host".into())),
            check(Field::ProcTty, Op::Ne, Rhs::Num(0)),
            check(Field::ProcExepath, Op::PMatch, types(&["/bin", "/usr/bin"])),
        ];
        fn tree(rng: &mut Rng, leaves: &[Node], depth: usize) -> Node {
            match rng.below(if depth == 0 { 2 } else { 6 }) {
                0 => leaves[rng.below(leaves.len())].clone(),
                1 if rng.below(8) == 0 => Node::Const(rng.below(2) == 1),
                1 => leaves[rng.below(leaves.len())].clone(),
                2 => Node::Not(Box::new(tree(rng, leaves, depth - 1))),
                k => {
                    let parts = (0..rng.below(4)).map(|_| tree(rng, leaves, depth - 1)).collect();
                    if k % 2 == 0 {
                        Node::And(parts)
                    } else {
                        Node::Or(parts)
                    }
                }
            }
        }
        fn checks(n: &Node) -> usize {
            match n {
                Node::And(v) | Node::Or(v) => v.iter().map(checks).sum(),
                Node::Not(n) => checks(n),
                Node::Const(_) => 0,
                Node::Check { .. } | Node::Shared(..) => 1,
            }
        }
        let mut rng = Rng(5);
        let (mut held, mut total) = (0, 0);
        for _ in 0..40 {
            let mut rules: Vec<(usize, Node)> = (0..12).map(|i| (i, tree(&mut rng, &leaves, 4))).collect();
            let slots = Node::share(&mut rules);
            let mut program = Program::default();
            let entries: Vec<u32> = rules.iter().map(|(_, n)| program.add(n)).collect();
            let program = program.built();
            assert_eq!(program.len(), rules.iter().map(|(_, n)| checks(n)).sum::<usize>());
            let shared = vec![std::cell::Cell::new(0); slots];
            let mut st = State::default();
            for (k, e) in events.iter().enumerate() {
                st.update(e);
                let memo = Memo::for_event(&shared, 2 * k as u64 + 1);
                let tree_says: Vec<bool> = rules.iter().map(|(_, n)| n.eval(e, &st, &memo)).collect();
                let memo = Memo::for_event(&shared, 2 * k as u64 + 2);
                let program_says: Vec<bool> = entries.iter().map(|&at| program.run(at, e, &st, &memo)).collect();
                assert_eq!(program_says, tree_says, "{rules:#?} on {e:?}");
                held += tree_says.iter().filter(|&&b| b).count();
                total += tree_says.len();
            }
        }
        // Conditions that hold and conditions that do not, both often.
        assert!(held > total / 10 && held < total * 9 / 10, "{held} of {total}");
    }

    /// An open's conditions specialised to its access mode give what they give for any open: random conditions over
    /// `evt.is_open_read`, `evt.is_open_write`, searches of the flags' names and other fields, on every open of a
    /// recorded attack made again with each access mode and a few flags. And a read-only open skips a rule about
    /// writes altogether.
    #[test]
    fn an_opens_conditions_specialised_to_its_access_mode_give_what_they_gave() {
        use crate::rng::Rng;
        use crate::rules::fields::{access_mode, State};
        use kestrel_core::EventKind;
        let flags_has = |text: &str| check(Field::EvtArg("flags".into()), Op::Contains, Rhs::Str(text.into()));
        let leaves = [
            check(Field::EvtIsOpenRead, Op::Eq, Rhs::Bool(true)),
            check(Field::EvtIsOpenWrite, Op::Eq, Rhs::Bool(true)),
            check(Field::EvtIsOpenWrite, Op::Ne, Rhs::Bool(true)),
            check(Field::EvtIsOpenRead, Op::Eq, Rhs::Bool(false)),
            flags_has("O_RDONLY"),
            flags_has("WRONLY"),
            flags_has("RDWR"),
            flags_has("O_TRUNC"),
            flags_has("CREAT"),
            flags_has("O_"),
            check(Field::FdTypechar, Op::Eq, Rhs::Str("f".into())),
            check(Field::FdType, Op::In, types(&["file", "directory"])),
            check(Field::FdNum, Op::Ge, Rhs::Num(0)),
            check(Field::EvtRawres, Op::Gt, Rhs::Num(0)),
            check(Field::EvtType, Op::In, types(&["open", "openat", "openat2"])),
            check(Field::FdName, Op::StartsWith, Rhs::Str("/etc".into())),
            check(Field::ProcName, Op::In, types(&["sh", "cat"])),
        ];
        fn tree(rng: &mut Rng, leaves: &[Node], depth: usize) -> Node {
            match rng.below(if depth == 0 { 1 } else { 5 }) {
                0 | 1 => leaves[rng.below(leaves.len())].clone(),
                2 => Node::Not(Box::new(tree(rng, leaves, depth - 1))),
                k => {
                    let parts = (1..2 + rng.below(3)).map(|_| tree(rng, leaves, depth - 1)).collect();
                    if k % 2 == 0 {
                        Node::And(parts)
                    } else {
                        Node::Or(parts)
                    }
                }
            }
        }
        let mut events = Vec::new();
        for e in crate::rules::tests::recorded_events().into_iter().filter(|e| matches!(e.kind, EventKind::Open { .. }))
        {
            for flags in [0, 1, 2, 3, 0o1101, 0o100, 0o1002, 0o2000000] {
                let mut e = e.clone();
                if let EventKind::Open { flags: f, .. } = &mut e.kind {
                    *f = flags;
                }
                events.push(e);
            }
        }
        assert!(events.len() > 50);
        let mut rng = Rng(11);
        let (mut held, mut total) = (0, 0);
        for _ in 0..300 {
            let cond = tree(&mut rng, &leaves, 3);
            let by_mode: Vec<Node> = (0..3).map(|m| cond.specialize_open(m)).collect();
            let mut st = State::default();
            for e in &events {
                st.update(e);
                let EventKind::Open { flags, .. } = e.kind else { unreachable!() };
                let memo = Memo::default();
                let says = cond.eval(e, &st, &memo);
                assert_eq!(by_mode[access_mode(flags)].eval(e, &st, &memo), says, "{cond:?} on {flags:#o}");
                held += usize::from(says);
                total += 1;
            }
        }
        assert!(held > total / 10 && held < total * 9 / 10, "{held} of {total}");
        // A rule about files written, on a read-only open: nothing left to run.
        let written = Node::And(vec![leaves[1].clone(), leaves[15].clone()]);
        assert!(matches!(written.specialize_open(0), Node::Const(false)));
        assert!(matches!(written.specialize_open(1), Node::Check { field: Field::FdName, .. }));
        assert!(matches!(flags_has("RDONLY").specialize_open(0), Node::Const(true)));
        assert!(matches!(flags_has("RDONLY").specialize_open(2), Node::Const(false)));
    }

    #[test]
    fn an_ands_exceptions_go_after_its_other_parts_however_cheap() {
        let file = check(Field::FdFilename, Op::In, types(&[".bashrc", ".profile", ".zshrc"]));
        let name = check(Field::ProcName, Op::Eq, Rhs::Str("apt".into()));
        let exception = Node::Not(Box::new(name.clone()));
        let cond = Node::And(vec![exception.clone(), file.clone()]);
        let show = |n: &Node| format!("{n:?}");
        assert!(exception.cost() < file.cost());
        assert_eq!(show(&cond.specialize(None)), show(&Node::And(vec![file.clone(), exception.clone()])));
        // So do the checks that hold for nearly every event: a field that exists, differs, or is at least a number.
        let exists = check(Field::ProcName, Op::Exists, Rhs::None);
        let differs = check(Field::ContainerId, Op::Ne, Rhs::Str("host".into()));
        let fd = check(Field::FdNum, Op::Ge, Rhs::Num(0));
        assert!(exists.cost() < file.cost() && differs.cost() < file.cost() && fd.cost() < file.cost());
        let cond = Node::And(vec![exists.clone(), differs.clone(), fd.clone(), file.clone()]);
        assert_eq!(show(&cond.specialize(None)), show(&Node::And(vec![file.clone(), differs, fd, exists])));
        // In an `or`, cost alone.
        let cond = Node::Or(vec![file.clone(), exception.clone()]);
        assert_eq!(show(&cond.specialize(None)), show(&Node::Or(vec![exception, file])));
    }
}
