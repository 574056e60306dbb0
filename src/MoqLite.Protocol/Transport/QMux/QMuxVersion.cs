using MoqLite.Lite;

namespace MoqLite.Transport.QMux;

/// <summary>The QMux drafts spoken over WebSocket.</summary>
public enum QMuxVersion
{
    /// <summary>draft-ietf-quic-qmux-00: exactly one frame per WebSocket message, no PING.</summary>
    Draft00,
    /// <summary>draft-ietf-quic-qmux-01: records of one or more frames, QX_PING, idle timeout, max_record_size.</summary>
    Draft01,
    /// <summary>draft-ietf-quic-qmux-02: as 01, transport parameters must come first, PING sequences increase.</summary>
    Draft02,
}

/// <summary>WebSocket subprotocol names of the form <c>qmux-01.moq-lite-05</c>.</summary>
public static class QMuxSubprotocols
{
    /// <summary>QMux drafts in the order the reference relay prefers them.</summary>
    public static IReadOnlyList<QMuxVersion> Preference { get; } = [QMuxVersion.Draft01, QMuxVersion.Draft00, QMuxVersion.Draft02];

    /// <summary>The subprotocol token prefix, e.g. <c>qmux-01</c>.</summary>
    public static string Token(this QMuxVersion version) => version switch
    {
        QMuxVersion.Draft00 => "qmux-00",
        QMuxVersion.Draft01 => "qmux-01",
        QMuxVersion.Draft02 => "qmux-02",
        _ => throw new ArgumentOutOfRangeException(nameof(version)),
    };

    /// <summary>Combines a QMux draft and an application protocol.</summary>
    public static string Format(QMuxVersion version, string applicationProtocol) => $"{version.Token()}.{applicationProtocol}";

    /// <summary>Splits <c>qmux-0N.alpn</c>; false for bare, legacy or unknown tokens.</summary>
    public static bool TryParse(string subprotocol, out QMuxVersion version, out string applicationProtocol)
    {
        foreach (var candidate in Preference)
        {
            var prefix = candidate.Token() + ".";
            if (subprotocol.StartsWith(prefix, StringComparison.Ordinal) && subprotocol.Length > prefix.Length)
            {
                version = candidate;
                applicationProtocol = subprotocol[prefix.Length..];
                return true;
            }
        }
        version = default;
        applicationProtocol = string.Empty;
        return false;
    }

    /// <summary>
    /// Picks from what a client offered, in our order: newest lite version first, then qmux-01, -00, -02.
    /// Returns null when nothing offered is acceptable (bare <c>qmux-0N</c> and <c>webtransport</c> never are).
    /// </summary>
    public static string? Select(IEnumerable<string> offered, IReadOnlyList<LiteVersion>? versions = null, IReadOnlyList<QMuxVersion>? drafts = null)
    {
        var set = new HashSet<string>(offered.Select(o => o.Trim()), StringComparer.Ordinal);
        foreach (var lite in versions ?? LiteVersions.All)
        {
            foreach (var draft in drafts ?? Preference)
            {
                var candidate = Format(draft, lite.Alpn());
                if (set.Contains(candidate))
                {
                    return candidate;
                }
            }
        }
        return null;
    }

    /// <summary>What a client offers: every supported lite version, each over qmux-01, -00 and -02.</summary>
    public static IReadOnlyList<string> Offer(IReadOnlyList<LiteVersion>? versions = null, IReadOnlyList<QMuxVersion>? drafts = null) =>
        [.. (versions ?? LiteVersions.All).SelectMany(v => (drafts ?? Preference).Select(d => Format(d, v.Alpn())))];
}
