using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;
using MoqLite.Coding;
using MoqLite.Transport;

namespace MoqLite.AspNetCore.WebTransport;

/// <summary>
/// A WebTransport session as a MOQ transport: inbound streams come from the connection pump, outbound ones are opened
/// on the QUIC connection directly (bidirectional ones included, which Kestrel's own session cannot open) with the
/// WebTransport header and this session's real id.
/// </summary>
internal sealed class WebTransportMoqConnection : MoqTransportConnection
{
    private readonly WebTransportConnectionPump _pump;
    private readonly long _sessionId;
    private readonly Action<ulong, string> _abortSession;
    private readonly ConcurrentDictionary<WebTransportMoqStream, byte> _streams = new();
    private readonly TaskCompletionSource<MoqCloseInfo> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenRegistration _connectionClosed;

    public WebTransportMoqConnection(WebTransportConnectionPump pump, long sessionId, string applicationProtocol, Action<ulong, string> abortSession)
    {
        _pump = pump;
        _sessionId = sessionId;
        _abortSession = abortSession;
        ApplicationProtocol = applicationProtocol;
        _connectionClosed = pump.ConnectionClosed.Register(() => Shutdown(new MoqCloseInfo((ulong)MoqErrorCode.Transport, "QUIC connection closed", ClosedByPeer: true)));
    }

    public override string ApplicationProtocol { get; }

    public override string TransportName => "webtransport";

    public override Task<MoqCloseInfo> Closed => _closed.Task;

    /// <summary>Ends the session because the peer or the request went away.</summary>
    public void PeerClosed(string reason) => Shutdown(new MoqCloseInfo(0, reason, ClosedByPeer: true));

    public override async ValueTask<MoqTransportStream> AcceptStreamAsync(CancellationToken cancellationToken = default)
    {
        ConnectionContext context;
        try
        {
            context = await _pump.StreamsOf(_sessionId).ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            Shutdown(new MoqCloseInfo((ulong)MoqErrorCode.Transport, "QUIC connection closed", ClosedByPeer: true));
            throw new MoqConnectionClosedException(await _closed.Task.ConfigureAwait(false));
        }
        var canWrite = context.Features.Get<Microsoft.AspNetCore.Connections.Features.IStreamDirectionFeature>()?.CanWrite ?? true;
        return Track(new WebTransportMoqStream(context, unidirectional: !canWrite, isLocal: false, Forget));
    }

    public override ValueTask<MoqTransportStream> OpenBidirectionalStreamAsync(CancellationToken cancellationToken = default) =>
        OpenAsync(unidirectional: false, cancellationToken);

    public override ValueTask<MoqTransportStream> OpenUnidirectionalStreamAsync(CancellationToken cancellationToken = default) =>
        OpenAsync(unidirectional: true, cancellationToken);

    public override ValueTask CloseAsync(ulong code, string reason)
    {
        if (!_closed.Task.IsCompleted)
        {
            _abortSession(code, reason);
        }
        Shutdown(new MoqCloseInfo(code, reason, ClosedByPeer: false));
        return ValueTask.CompletedTask;
    }

    private async ValueTask<MoqTransportStream> OpenAsync(bool unidirectional, CancellationToken cancellationToken)
    {
        if (_closed.Task.IsCompleted)
        {
            throw new MoqConnectionClosedException(_closed.Task.Result);
        }
        ConnectionContext context;
        try
        {
            context = await _pump.OpenStreamAsync(unidirectional, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ConnectionAbortedException or ObjectDisposedException or InvalidOperationException)
        {
            Shutdown(new MoqCloseInfo((ulong)MoqErrorCode.Transport, "QUIC connection closed", ClosedByPeer: true));
            throw new MoqConnectionClosedException(_closed.Task.Result);
        }
        // The WebTransport stream header; it goes out with the application's first flush.
        var output = context.Transport.Output;
        VarInt.Write(output, unidirectional ? WebTransportConnectionPump.UnidirectionalStreamType : WebTransportConnectionPump.BidirectionalSignal);
        VarInt.Write(output, (ulong)_sessionId);
        return Track(new WebTransportMoqStream(context, unidirectional, isLocal: true, Forget));
    }

    private WebTransportMoqStream Track(WebTransportMoqStream stream)
    {
        _streams[stream] = 0;
        if (_closed.Task.IsCompleted)
        {
            stream.Abort();
        }
        return stream;
    }

    private void Forget(WebTransportMoqStream stream) => _streams.TryRemove(stream, out _);

    private void Shutdown(MoqCloseInfo info)
    {
        if (!_closed.TrySetResult(info))
        {
            return;
        }
        _pump.EndSession(_sessionId);
        // Kestrel does not track streams it did not open for the session: abort them here.
        foreach (var stream in _streams.Keys)
        {
            stream.Abort();
        }
        _connectionClosed.Dispose();
    }
}
