using MoqLite.AspNetCore.Authorization;
using MoqLite.Session;
using MoqLite.Transport.QMux;

namespace MoqLite.AspNetCore;

/// <summary>Options for the MOQ Lite endpoint, set with <c>AddMoqLite(options =&gt; …)</c> and checked at start-up.</summary>
public sealed class MoqLiteOptions
{
    /// <summary>
    /// Limits and policy applied to every session (message, frame, announcement, subscription and in-flight group
    /// limits). <see cref="MoqSessionOptions.Root"/>, <see cref="MoqSessionOptions.CanPublish"/> and
    /// <see cref="MoqSessionOptions.CanSubscribe"/> are set per request from the path and the client's rights.
    /// </summary>
    public MoqSessionOptions Session { get; } = new();

    /// <summary>Sessions this endpoint holds at once; further requests get 503. Default 10000.</summary>
    public int MaxSessions { get; set; } = 10_000;

    /// <summary>QMux (WebSocket) windows, stream limits and idle timeout.</summary>
    public QMuxOptions QMux { get; } = new();

    /// <summary>Per-session publish and subscribe rights from <c>?jwt=</c> tokens.</summary>
    public MoqTokenOptions Tokens { get; } = new();

    /// <summary>
    /// The WebSocket subprotocols accepted, most preferred first. By default every moq-lite version over
    /// qmux-01, -00 and -02, preferring <c>qmux-01.moq-lite-05</c>.
    /// </summary>
    public IList<string> WebSocketSubprotocols { get; } = [.. QMuxSubprotocols.Offer()];
}
