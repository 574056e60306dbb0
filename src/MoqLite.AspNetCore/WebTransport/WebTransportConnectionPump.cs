using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using MoqLite.Coding;

namespace MoqLite.AspNetCore.WebTransport;

/// <summary>
/// Sits between one QUIC connection and Kestrel's HTTP/3 layer. Kestrel 10 reads each inbound stream's header inline
/// before accepting the next, so a stream the browser opened but has not written to (Chromium's reserved QPACK
/// streams) stalls every later stream for about a minute. This pump accepts every stream itself and classifies them
/// concurrently: WebTransport streams (0x54 uni / 0x41 bidi, then the session id) go straight to their session, with
/// the header consumed; everything else goes to Kestrel with its bytes unconsumed.
/// </summary>
internal sealed class WebTransportConnectionPump : IAsyncDisposable
{
    public const ulong UnidirectionalStreamType = 0x54;
    public const ulong BidirectionalSignal = 0x41;

    private readonly MultiplexedConnectionContext _connection;
    private readonly Channel<ConnectionContext> _forKestrel = Channel.CreateUnbounded<ConnectionContext>();
    private readonly ConcurrentDictionary<long, Channel<ConnectionContext>> _sessions = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;

    public WebTransportConnectionPump(MultiplexedConnectionContext connection)
    {
        _connection = connection;
        KestrelView = new KestrelConnectionView(connection, _forKestrel.Reader);
        _run = RunAsync();
    }

    /// <summary>What Kestrel sees: the same connection, but only the streams that are not WebTransport's.</summary>
    public MultiplexedConnectionContext KestrelView { get; }

    /// <summary>Fires when the QUIC connection closes.</summary>
    public CancellationToken ConnectionClosed => _connection.ConnectionClosed;

    /// <summary>Inbound streams of WebTransport session <paramref name="sessionId"/>, including any that arrived before it was accepted.</summary>
    public ChannelReader<ConnectionContext> StreamsOf(long sessionId) => SessionChannel(sessionId).Reader;

    /// <summary>Stops delivering streams to a session that ended, aborting any it never took.</summary>
    public void EndSession(long sessionId)
    {
        if (_sessions.TryRemove(sessionId, out var channel))
        {
            channel.Writer.TryComplete();
            while (channel.Reader.TryRead(out var stream))
            {
                stream.Abort();
            }
        }
    }

    /// <summary>Opens a stream on the QUIC connection: bidirectional, or send-only when <paramref name="unidirectional"/>.</summary>
    public ValueTask<ConnectionContext> OpenStreamAsync(bool unidirectional, CancellationToken cancellationToken)
    {
        var features = new FeatureCollection();
        if (unidirectional)
        {
            features.Set<IStreamDirectionFeature>(SendOnly.Instance);
        }
        return _connection.ConnectAsync(features, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _run.ConfigureAwait(false);
        _stop.Dispose();
    }

    private Channel<ConnectionContext> SessionChannel(long sessionId) =>
        _sessions.GetOrAdd(sessionId, _ => Channel.CreateUnbounded<ConnectionContext>());

    private async Task RunAsync()
    {
        await Task.Yield();
        try
        {
            while (await _connection.AcceptAsync(_stop.Token).ConfigureAwait(false) is { } stream)
            {
                _ = ClassifyAsync(stream);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ConnectionAbortedException or ObjectDisposedException or InvalidOperationException)
        {
            // The connection ended.
        }
        finally
        {
            _forKestrel.Writer.TryComplete();
            foreach (var sessionId in _sessions.Keys)
            {
                EndSession(sessionId);
            }
        }
    }

    private async Task ClassifyAsync(ConnectionContext stream)
    {
        var canWrite = stream.Features.Get<IStreamDirectionFeature>()?.CanWrite ?? true;
        var input = stream.Transport.Input;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(_stop.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                var reader = new SequenceReader<byte>(buffer);
                if (VarInt.TryRead(ref reader, out var type))
                {
                    var webTransport = canWrite ? type == BidirectionalSignal : type == UnidirectionalStreamType;
                    if (!webTransport)
                    {
                        // Hand Kestrel the stream exactly as it arrived: nothing consumed, nothing marked examined.
                        input.AdvanceTo(buffer.Start);
                        _forKestrel.Writer.TryWrite(stream);
                        return;
                    }
                    if (VarInt.TryRead(ref reader, out var sessionId))
                    {
                        input.AdvanceTo(reader.Position);
                        if (!SessionChannel((long)sessionId).Writer.TryWrite(stream))
                        {
                            stream.Abort();
                        }
                        return;
                    }
                }
                if (result.IsCompleted || result.IsCanceled)
                {
                    input.AdvanceTo(buffer.Start);
                    _forKestrel.Writer.TryWrite(stream);
                    return;
                }
                input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ConnectionAbortedException or ConnectionResetException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            stream.Abort();
        }
    }

    private sealed class SendOnly : IStreamDirectionFeature
    {
        public static readonly SendOnly Instance = new();

        public bool CanRead => false;

        public bool CanWrite => true;
    }

    /// <summary>Forwards everything to the real connection except <see cref="AcceptAsync"/>, which yields Kestrel's streams only.</summary>
    private sealed class KestrelConnectionView(MultiplexedConnectionContext inner, ChannelReader<ConnectionContext> streams) : MultiplexedConnectionContext
    {
        public override string ConnectionId { get => inner.ConnectionId; set => inner.ConnectionId = value; }

        public override IFeatureCollection Features => inner.Features;

        public override IDictionary<object, object?> Items { get => inner.Items; set => inner.Items = value; }

        public override CancellationToken ConnectionClosed { get => inner.ConnectionClosed; set => inner.ConnectionClosed = value; }

        public override EndPoint? LocalEndPoint { get => inner.LocalEndPoint; set => inner.LocalEndPoint = value; }

        public override EndPoint? RemoteEndPoint { get => inner.RemoteEndPoint; set => inner.RemoteEndPoint = value; }

        public override void Abort() => inner.Abort();

        public override void Abort(ConnectionAbortedException abortReason) => inner.Abort(abortReason);

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }

        public override async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                return await streams.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                return null;
            }
        }

        public override ValueTask<ConnectionContext> ConnectAsync(IFeatureCollection? features = null, CancellationToken cancellationToken = default) =>
            inner.ConnectAsync(features, cancellationToken);
    }
}
