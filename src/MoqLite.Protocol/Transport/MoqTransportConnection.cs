using System.Buffers;
using MoqLite.Coding;

namespace MoqLite.Transport;

/// <summary>How a transport connection ended.</summary>
/// <param name="Code">The application close code.</param>
/// <param name="Reason">The reason text.</param>
/// <param name="ClosedByPeer">True when the peer closed it (or the link was lost).</param>
public readonly record struct MoqCloseInfo(ulong Code, string Reason, bool ClosedByPeer);

/// <summary>
/// A multiplexed connection (QUIC, WebTransport, QMux, in-memory) as MOQ needs it: open and accept
/// bidirectional and unidirectional streams, and close with an application code and reason.
/// </summary>
public abstract class MoqTransportConnection : IAsyncDisposable
{
    /// <summary>The negotiated application protocol, e.g. <c>moq-lite-05</c>.</summary>
    public abstract string ApplicationProtocol { get; }

    /// <summary>A short transport name for logs and metrics (<c>websocket</c>, <c>webtransport</c>, <c>quic</c>, <c>memory</c>).</summary>
    public abstract string TransportName { get; }

    /// <summary>
    /// Whether this side may open bidirectional streams. Kestrel's WebTransport cannot; a session then
    /// serves the peer but cannot pull from it.
    /// </summary>
    public virtual bool CanOpenBidirectionalStreams => true;

    /// <summary>Completes when the connection has closed, by either side.</summary>
    public abstract Task<MoqCloseInfo> Closed { get; }

    /// <summary>Opens a bidirectional stream, waiting for the peer's stream credit if necessary.</summary>
    public abstract ValueTask<MoqTransportStream> OpenBidirectionalStreamAsync(CancellationToken cancellationToken = default);

    /// <summary>Opens a unidirectional (send-only) stream, waiting for the peer's stream credit if necessary.</summary>
    public abstract ValueTask<MoqTransportStream> OpenUnidirectionalStreamAsync(CancellationToken cancellationToken = default);

    /// <summary>Waits for the next stream the peer opens; throws <see cref="MoqConnectionClosedException"/> once closed.</summary>
    public abstract ValueTask<MoqTransportStream> AcceptStreamAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Set by the session: takes a peer unidirectional stream whose every byte and end arrived together, straight
    /// from the transport's receive buffer, with no stream object, pipe or accept. The bytes are only valid during
    /// the call, unless the handler takes a reference on the <see cref="SharedBuffer"/> they lie in, when the
    /// transport gives one. Returns false to have that stream accepted as usual instead. Transports that never see a
    /// stream whole ignore it.
    /// </summary>
    internal Func<ReadOnlySequence<byte>, SharedBuffer?, bool>? WholeStreamReceived { get; set; }

    /// <summary>Closes the connection with an application code and reason. Idempotent.</summary>
    public abstract ValueTask CloseAsync(ulong code, string reason);

    /// <inheritdoc/>
    public virtual async ValueTask DisposeAsync()
    {
        await CloseAsync((ulong)MoqErrorCode.Cancel, "disposed").ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }
}

/// <summary>The connection is closed; carries how it ended.</summary>
public sealed class MoqConnectionClosedException : MoqException
{
    /// <summary>Creates the exception from the close information.</summary>
    public MoqConnectionClosedException(MoqCloseInfo info)
        : base((MoqErrorCode)info.Code, $"connection closed ({info.Code}): {info.Reason}") => Info = info;

    /// <summary>How the connection ended.</summary>
    public MoqCloseInfo Info { get; }
}
