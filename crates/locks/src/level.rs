//! Lock levels: the resource types, acquired strictly in increasing order.

use std::fmt;

/// A family of locks of one resource type. Levels are acquired strictly in the order listed
/// (their `Ord`): an owner may only ask for locks at a level above every level it holds, and
/// must hold the [`BGL`] for any level but [`Level::Cluster`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// The one Big Ganeti Lock, [`BGL`].
    Cluster,
    /// Instances.
    Instance,
    /// The one node-allocation lock, [`NAL`].
    NodeAlloc,
    /// Node groups.
    NodeGroup,
    /// Nodes.
    Node,
    /// Node resources (disks).
    NodeRes,
    /// Networks.
    Network,
}

/// The name of the one lock at [`Level::Cluster`].
pub const BGL: &str = "BGL";
/// The name of the one lock at [`Level::NodeAlloc`].
pub const NAL: &str = "NAL";

impl Level {
    /// Every level, in acquisition order.
    pub const ALL: [Level; 7] = [
        Level::Cluster,
        Level::Instance,
        Level::NodeAlloc,
        Level::NodeGroup,
        Level::Node,
        Level::NodeRes,
        Level::Network,
    ];

    /// Ganeti's name for the level (singular).
    pub const fn name(self) -> &'static str {
        match self {
            Level::Cluster => "cluster",
            Level::Instance => "instance",
            Level::NodeAlloc => "node-alloc",
            Level::NodeGroup => "nodegroup",
            Level::Node => "node",
            Level::NodeRes => "node-res",
            Level::Network => "network",
        }
    }

    /// Whether locks can be added to and removed from this level (all but the two fixed ones).
    pub const fn is_modifiable(self) -> bool {
        !matches!(self, Level::Cluster | Level::NodeAlloc)
    }

    /// The position of the level in [`Level::ALL`].
    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
