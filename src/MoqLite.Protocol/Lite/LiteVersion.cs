namespace MoqLite.Lite;

/// <summary>The MOQ Lite drafts this implementation speaks. The value is the draft's wire code.</summary>
public enum LiteVersion : uint
{
    /// <summary>moq-lite-03: ALPN-negotiated, no Track stream, frames without timestamps.</summary>
    Lite03 = 0xff0dad03,
    /// <summary>moq-lite-04: adds hop ids, exclude-hop and GOAWAY.</summary>
    Lite04 = 0xff0dad04,
    /// <summary>moq-lite-05: SETUP stream, ANNOUNCE_OK, TRACK/TRACK_INFO, SUBSCRIBE_START/END, FETCH, timestamped frames.</summary>
    Lite05 = 0xff0dad05,
}

/// <summary>Version names (ALPN, WebTransport protocol, WebSocket subprotocol suffix) and version-gated features.</summary>
public static class LiteVersions
{
    /// <summary>All supported versions, most preferred first.</summary>
    public static IReadOnlyList<LiteVersion> All { get; } = [LiteVersion.Lite05, LiteVersion.Lite04, LiteVersion.Lite03];

    /// <summary>The identifier used as ALPN and subprotocol, e.g. <c>moq-lite-05</c>.</summary>
    public static string Alpn(this LiteVersion version) => version switch
    {
        LiteVersion.Lite03 => "moq-lite-03",
        LiteVersion.Lite04 => "moq-lite-04",
        LiteVersion.Lite05 => "moq-lite-05",
        _ => throw new ArgumentOutOfRangeException(nameof(version)),
    };

    /// <summary>Parses an ALPN identifier; false for anything this implementation does not speak.</summary>
    public static bool TryParseAlpn(string alpn, out LiteVersion version)
    {
        foreach (var candidate in All)
        {
            if (candidate.Alpn() == alpn)
            {
                version = candidate;
                return true;
            }
        }
        version = default;
        return false;
    }

    /// <summary>lite-05+: each side sends a SETUP on a unidirectional stream.</summary>
    public static bool HasSetupStream(this LiteVersion v) => v >= LiteVersion.Lite05;

    /// <summary>lite-05+: the Announce stream starts with ANNOUNCE_OK and hop chains omit the responder.</summary>
    public static bool HasAnnounceOk(this LiteVersion v) => v >= LiteVersion.Lite05;

    /// <summary>lite-04 and lite-05: ANNOUNCE_REQUEST carries the requester's origin to exclude.</summary>
    public static bool HasExcludeHop(this LiteVersion v) => v is LiteVersion.Lite04 or LiteVersion.Lite05;

    /// <summary>lite-04+: hop chains carry ids, not just a count.</summary>
    public static bool HasHopIds(this LiteVersion v) => v >= LiteVersion.Lite04;

    /// <summary>lite-05+: TRACK/TRACK_INFO, FETCH, SUBSCRIBE_START/END and timestamped frames.</summary>
    public static bool HasTrackStream(this LiteVersion v) => v >= LiteVersion.Lite05;

    /// <summary>lite-04+: GOAWAY and the PROBE round-trip time.</summary>
    public static bool HasGoaway(this LiteVersion v) => v >= LiteVersion.Lite04;
}
