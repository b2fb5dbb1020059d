/// Tunables of a ``ChordNode``; the defaults suit rings of 10 to 10,000 nodes.
public struct OverlayConfiguration: Sendable {
    /// How many successors each node tracks (Chord's r). Default 6.
    public var successorListLength = 6
    /// How many fingers each node keeps. Default 16.
    public var fingerCount = 16
    /// Space fingers evenly in log-distance over the ring size estimated from the successor
    /// list, instead of at the top `fingerCount` powers of two. Default true (fewer hops).
    public var adaptiveFingers = true
    /// Total copies of each record: the owner plus `replicaCount - 1` successors. Default 3.
    public var replicaCount = 3
    /// Owned records are pushed again to the replica set every this many predecessor checks
    /// (anti-entropy); 0 turns it off. Default 3 (every 30 s).
    public var replicaRefreshTicks = 3
    /// Stabilisation period (Chord `stabilize`). Default 5 s.
    public var stabilizeInterval: Duration = .seconds(5)
    /// Finger refresh period; one finger is refreshed per period. Default 5 s.
    public var fixFingersInterval: Duration = .seconds(5)
    /// Predecessor liveness check period. Default 10 s.
    public var checkPredecessorInterval: Duration = .seconds(10)
    /// Periodic timers are spread by ± this fraction of their period. Default 0.2.
    public var jitter = 0.2
    /// How long to wait for any single answer. Default 1 s.
    public var requestTimeout: Duration = .seconds(1)
    /// Fresh attempts of a request after its lookup runs out of peers. Default 3.
    public var retries = 3
    /// Delay before such a fresh attempt, so the ring can repair meanwhile. Default 2 s.
    public var retryDelay: Duration = .seconds(2)
    /// An attempt of a lookup gives up after this many hops that got no closer to the key
    /// (hops that make progress are not limited: they end at the owner). Default 32.
    public var maximumHops = 32
    /// Peers offered in a redirect (a 302 with several contacts). Default 2.
    public var redirectCandidates = 2
    /// Every this many predecessor checks the node looks up its own successor through another
    /// peer (Chord's periodic self-lookup against loopy rings): through a peer it dropped as
    /// unresponsive when it has one, so rings split by a partition merge again, else through a
    /// finger. 0 turns it off. Default 3 (every 30 s).
    public var selfCheckTicks = 3
    /// How long a peer dropped as unresponsive is still probed by self-lookups. Default 10 min.
    public var suspectRetention: Duration = .seconds(600)
    /// How many such peers a node remembers. Default 8.
    public var suspectLimit = 8

    /// The default configuration.
    public init() {}
}
