//! Type descriptors and their Canonical-ABI layout: size, alignment and flattening.

use alloc::vec::Vec;

/// At most this many core parameters are passed flat; more go through memory.
pub const MAX_FLAT_PARAMS: usize = 16;
/// At most this many core results are returned flat; more go through a return area.
pub const MAX_FLAT_RESULTS: usize = 1;

/// A WIT type, as far as the Canonical ABI needs to know it.
///
/// `option`, `result` and `enum` are laid out as the variants they are defined as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Type {
    Bool,
    U8,
    U16,
    U32,
    U64,
    S8,
    S16,
    S32,
    S64,
    String,
    List(&'static Type),
    Option(&'static Type),
    /// `result<ok, err>`; `None` is the `_` of `result<_, E>`.
    Result {
        ok: Option<&'static Type>,
        err: Option<&'static Type>,
    },
    Tuple(&'static [Type]),
    Record(&'static [Field]),
    Enum(&'static [&'static str]),
    Variant(&'static [Case]),
}

/// A named field of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The field's WIT name (kebab-case).
    pub name: &'static str,
    /// The field's type.
    pub ty: Type,
}

/// A named case of a variant, with an optional payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    /// The case's WIT name (kebab-case).
    pub name: &'static str,
    /// The payload type, if the case carries one.
    pub ty: Option<Type>,
}

/// A core Wasm value type in a flattened signature (the contract uses no floats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum FlatType {
    I32,
    I64,
}

impl FlatType {
    /// The join of two flat types in a variant payload slot.
    pub fn join(self, other: FlatType) -> FlatType {
        if self == other {
            self
        } else {
            FlatType::I64
        }
    }
}

impl Type {
    /// The number of cases if this is a variant-like type (variant, enum, option, result).
    pub fn case_count(&self) -> Option<usize> {
        match self {
            Type::Option(_) | Type::Result { .. } => Some(2),
            Type::Enum(names) => Some(names.len()),
            Type::Variant(cases) => Some(cases.len()),
            _ => None,
        }
    }

    /// The payload type of case `i` of a variant-like type.
    pub fn case_type(&self, i: usize) -> Option<&Type> {
        match (self, i) {
            (Type::Option(t), 1) => Some(t),
            (Type::Result { ok, .. }, 0) => ok.as_deref(),
            (Type::Result { err, .. }, 1) => err.as_deref(),
            (Type::Variant(cases), i) => cases.get(i).and_then(|c| c.ty.as_ref()),
            _ => None,
        }
    }

    /// The byte width of the discriminant of a variant with `cases` cases.
    pub fn discriminant_size(cases: usize) -> u32 {
        if cases <= 1 << 8 {
            1
        } else if cases <= 1 << 16 {
            2
        } else {
            4
        }
    }

    /// Alignment in linear memory.
    pub fn align(&self) -> u32 {
        match self {
            Type::Bool | Type::U8 | Type::S8 => 1,
            Type::U16 | Type::S16 => 2,
            Type::U32 | Type::S32 | Type::String | Type::List(_) => 4,
            Type::U64 | Type::S64 => 8,
            Type::Tuple(ts) => ts.iter().map(Type::align).max().unwrap_or(1),
            Type::Record(fs) => fs.iter().map(|f| f.ty.align()).max().unwrap_or(1),
            // Only the alignments: a variant's alignment needs none of its payload sizes
            // (this runs for every field of every value lowered, so it matters).
            _ => self
                .max_case_align()
                .map_or(self.discriminant(), |a| a.max(self.discriminant())),
        }
    }

    /// The discriminant's width for a variant-like type (1 for anything else).
    fn discriminant(&self) -> u32 {
        Type::discriminant_size(self.case_count().unwrap_or(0))
    }

    /// The largest alignment among a variant-like type's payloads (`None`: no payloads).
    fn max_case_align(&self) -> Option<u32> {
        let n = self.case_count().unwrap_or(0);
        (0..n)
            .filter_map(|i| self.case_type(i))
            .map(Type::align)
            .max()
    }

    /// Size in linear memory (a multiple of the alignment).
    pub fn size(&self) -> u32 {
        self.layout().0
    }

    /// Size and alignment in one walk: a record's size needs its fields' alignments
    /// anyway, and computing the two separately walked every nested type twice per level
    /// (a tenth of a wasmi `GET /hello` call went to that).
    pub fn layout(&self) -> (u32, u32) {
        match self {
            Type::Bool | Type::U8 | Type::S8 => (1, 1),
            Type::U16 | Type::S16 => (2, 2),
            Type::U32 | Type::S32 => (4, 4),
            Type::U64 | Type::S64 => (8, 8),
            Type::String | Type::List(_) => (8, 4),
            Type::Tuple(ts) => record_layout(ts.iter()),
            Type::Record(fs) => record_layout(fs.iter().map(|f| &f.ty)),
            _ => {
                let (payload_offset, align, payload_size) = self.variant_layout();
                let size =
                    super::align_to(u64::from(payload_offset) + u64::from(payload_size), align);
                (to_u32(size), align)
            }
        }
    }

    /// For a variant-like type: (payload offset, alignment, largest payload size).
    pub fn variant_layout(&self) -> (u32, u32, u32) {
        let n = self.case_count().unwrap_or(0);
        let disc = Type::discriminant_size(n);
        let mut case_align = None::<u32>;
        let mut payload = 0;
        for t in (0..n).filter_map(|i| self.case_type(i)) {
            let (size, align) = t.layout();
            case_align = Some(case_align.unwrap_or(1).max(align));
            payload = payload.max(size);
        }
        let offset = to_u32(super::align_to(u64::from(disc), case_align.unwrap_or(1)));
        (offset, disc.max(case_align.unwrap_or(1)), payload)
    }

    /// The payload offset of a variant-like type: all a store or load of one needs, and
    /// cheaper than [`Type::variant_layout`] (no payload sizes).
    pub fn payload_offset(&self) -> u32 {
        to_u32(super::align_to(
            u64::from(self.discriminant()),
            self.max_case_align().unwrap_or(1),
        ))
    }

    /// Appends the flattened core types of this type to `out`.
    pub fn flatten(&self, out: &mut Vec<FlatType>) {
        match self {
            Type::Bool
            | Type::U8
            | Type::U16
            | Type::U32
            | Type::S8
            | Type::S16
            | Type::S32
            | Type::Enum(_) => out.push(FlatType::I32),
            Type::U64 | Type::S64 => out.push(FlatType::I64),
            Type::String | Type::List(_) => out.extend([FlatType::I32, FlatType::I32]),
            Type::Tuple(ts) => ts.iter().for_each(|t| t.flatten(out)),
            Type::Record(fs) => fs.iter().for_each(|f| f.ty.flatten(out)),
            Type::Option(_) | Type::Result { .. } | Type::Variant(_) => {
                out.push(FlatType::I32);
                out.extend(self.joined_payload());
            }
        }
    }

    /// The joined flat types of all payloads of a variant-like type.
    pub fn joined_payload(&self) -> Vec<FlatType> {
        let mut joined: Vec<FlatType> = Vec::new();
        let mut case = Vec::new();
        for i in 0..self.case_count().unwrap_or(0) {
            if let Some(t) = self.case_type(i) {
                case.clear();
                t.flatten(&mut case);
                for (j, ft) in case.iter().enumerate() {
                    match joined.get_mut(j) {
                        Some(slot) => *slot = slot.join(*ft),
                        None => joined.push(*ft),
                    }
                }
            }
        }
        joined
    }

    /// The flattened core types of this type.
    pub fn flat_types(&self) -> Vec<FlatType> {
        let mut out = Vec::new();
        self.flatten(&mut out);
        out
    }

    /// How many core values this type flattens to.
    pub fn flat_count(&self) -> usize {
        match self {
            Type::Tuple(ts) => ts.iter().map(Type::flat_count).sum(),
            Type::Record(fs) => fs.iter().map(|f| f.ty.flat_count()).sum(),
            Type::Option(_) | Type::Result { .. } | Type::Variant(_) => {
                let n = self.case_count().unwrap_or(0);
                1 + (0..n)
                    .filter_map(|i| self.case_type(i))
                    .map(Type::flat_count)
                    .max()
                    .unwrap_or(0)
            }
            Type::String | Type::List(_) => 2,
            _ => 1,
        }
    }
}

/// Saturates a layout quantity to `u32` (no contract type comes anywhere near).
fn to_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// The (size, alignment) of a record or tuple with these field types.
fn record_layout<'a>(fields: impl Iterator<Item = &'a Type>) -> (u32, u32) {
    let mut offset = 0u64;
    let mut align = 1;
    for t in fields {
        let (field_size, field_align) = t.layout();
        offset = super::align_to(offset, field_align) + u64::from(field_size);
        align = align.max(field_align);
    }
    (to_u32(super::align_to(offset, align)), align)
}

/// The offsets of the fields of a record or tuple, in order.
pub(crate) fn field_offsets<'a>(
    fields: impl Iterator<Item = &'a Type>,
) -> impl Iterator<Item = (u32, &'a Type)> {
    let mut offset = 0u64;
    fields.map(move |t| {
        let (size, align) = t.layout();
        let at = super::align_to(offset, align);
        offset = at + u64::from(size);
        (to_u32(at), t)
    })
}
