namespace MoqLite.Session;

/// <summary>Limits and policy for one MOQ session. Every limit is enforced; exceeding one is reported to the peer.</summary>
public sealed class MoqSessionOptions
{
    /// <summary>Largest control message accepted, in bytes. Default 64 KiB.</summary>
    public int MaxMessageSize { get; set; } = 64 * 1024;

    /// <summary>Largest frame accepted, in bytes; a larger one is a protocol violation. Default 16 MiB.</summary>
    public int MaxFrameSize { get; set; } = 16 * 1024 * 1024;

    /// <summary>Broadcasts the peer may announce to us at once. Default 1000.</summary>
    public int MaxAnnouncements { get; set; } = 1000;

    /// <summary>Subscriptions the peer may hold with us at once. Default 1000.</summary>
    public int MaxSubscriptions { get; set; } = 1000;

    /// <summary>
    /// Groups of one subscription in flight to the peer at once: a group is in flight until its stream has sent it
    /// (see <see cref="Transport.MoqTransportStream.SendCompleted"/>). When a new group arrives beyond this, the
    /// oldest is reset with <see cref="MoqErrorCode.Dropped"/>, so a slow peer loses whole old groups. Default 8.
    /// </summary>
    public int MaxGroupsInFlight { get; set; } = 8;

    /// <summary>
    /// Groups of each track received from the peer that are kept for late joiners and FETCH: the newest always,
    /// older ones until they age past the track's latency window. A relay wants a few; a client that only watches
    /// needs the newest alone, since holding a window per track it reads costs memory for no one. Default 64.
    /// </summary>
    public int MaxCachedGroups { get; set; } = 64;

    /// <summary>
    /// The session's namespace root within the origin: a peer's path <c>alice</c> is <c>{Root}/alice</c> in the origin.
    /// </summary>
    public string Root { get; set; } = string.Empty;

    /// <summary>Whether to ask the peer for its broadcasts under <see cref="Root"/> as soon as the session starts.</summary>
    public bool AnnounceOnStart { get; set; } = true;

    /// <summary>Decides whether the peer may publish at an origin path; null allows everything.</summary>
    public Func<string, bool>? CanPublish { get; set; }

    /// <summary>Decides whether the peer may discover and subscribe to an origin path; null allows everything.</summary>
    public Func<string, bool>? CanSubscribe { get; set; }

    /// <summary>Where the session records its metrics; null records none.</summary>
    public Diagnostics.MoqMetrics? Metrics { get; set; }

    /// <summary>
    /// The request path (and query) a client sends in SETUP on transports without a request URI (raw QUIC); null elsewhere.
    /// </summary>
    public string? SetupPath { get; set; }

    /// <summary>A copy to specialise per session (root, rights) without touching the shared defaults.</summary>
    internal MoqSessionOptions Clone() => (MoqSessionOptions)MemberwiseClone();

    internal MoqSessionOptions WithSetupPath(string path)
    {
        var copy = (MoqSessionOptions)MemberwiseClone();
        copy.SetupPath = path;
        return copy;
    }

    /// <summary>Checks the values, throwing <see cref="ArgumentOutOfRangeException"/> with the offending name.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMessageSize, 64, nameof(MaxMessageSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFrameSize, 1, nameof(MaxFrameSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAnnouncements, 0, nameof(MaxAnnouncements));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSubscriptions, 0, nameof(MaxSubscriptions));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxGroupsInFlight, 1, nameof(MaxGroupsInFlight));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxCachedGroups, 1, nameof(MaxCachedGroups));
        ArgumentNullException.ThrowIfNull(Root, nameof(Root));
    }
}
