using System.Buffers;
using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using MoqLite.Coding;
using MoqLite.Model;
using MoqLite.Transport.WebSockets;

namespace MoqLite.Transport.QMux;

/// <summary>
/// QUIC-style streams multiplexed over one WebSocket (draft-ietf-quic-qmux-00/01/02 as bound to WebSocket by
/// moq-lite). The same class serves both ends. One receive loop demultiplexes frames into per-stream receive
/// buffers and grants flow-control credit as the application consumes; whichever thread makes data ready while the
/// socket is free packs control frames and stream data — highest <see cref="MoqTransportStream.SendPriority"/>
/// first — into WebSocket messages within the peer's credit.
/// </summary>
public sealed partial class QMuxConnection : MoqTransportConnection
{
    private const int MaxFrameSize00 = 16384;
    /// <summary>The largest max_record_size we advertise: a message then fits a 64 KiB pooled buffer.</summary>
    internal const int MaxRecordSizeLimit = 65535;
    private readonly object _gate = new();
    private readonly WebSocket _socket;
    // Our own server socket takes messages built behind room for its frame header: no copy on the way out.
    private readonly ServerWebSocket? _preframed;
    private readonly int _headroom;
    private readonly bool _isServer;
    private readonly QMuxOptions _options;
    private readonly QMuxTransportParameters _local;
    private readonly Dictionary<long, QMuxStream> _streams = [];
    // Peer streams are handed over after their first bytes were delivered, outside any lock, and the acceptor runs
    // on the receive loop: a group stream that arrived whole is parsed at once instead of after a thread-pool hop.
    // Peer streams waiting to be accepted (guarded by _gate). The acceptor resumes on the receive loop: no hop per stream.
    private readonly Queue<MoqTransportStream> _acceptable = new();
    private readonly AsyncSignal _acceptSignal = new(inline: true);
    private bool _acceptClosed;
    private readonly List<QMuxStream> _opened = [];
    // Peer streams opened implicitly by a higher one and not seen yet (guarded by _gate).
    private readonly HashSet<long> _implicitlyOpened = [];
    private readonly Queue<byte[]> _control = new();
    private readonly List<QMuxStream> _ready = [];
    private readonly List<(bool Unidirectional, TaskCompletionSource Waiter)> _openWaiters = [];
    private readonly TaskCompletionSource<MoqCloseInfo> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _shutdown = new();
    private QMuxTransportParameters? _peer;
    private ulong _peerMaxData;
    private ulong _sentData;
    private ulong _peerMaxStreamsBidi;
    private ulong _peerMaxStreamsUni;
    private ulong _openedBidi;
    private ulong _openedUni;
    private ulong _maxData;
    private ulong _receivedData;
    private ulong _consumedData;
    private ulong _peerOpenedBidi;
    private ulong _peerOpenedUni;
    private ulong _retiredBidi;
    private ulong _retiredUni;
    private ulong _grantedStreamsBidi;
    private ulong _grantedStreamsUni;
    private ulong _pingSequence;
    private long _readySequence;
    private long _lastReceived = Environment.TickCount64;
    private long _lastSent = Environment.TickCount64;
    private bool _closing;

    private QMuxConnection(WebSocket socket, bool isServer, QMuxVersion version, string applicationProtocol, QMuxOptions options)
    {
        _socket = socket;
        _preframed = socket as ServerWebSocket;
        _headroom = _preframed is null ? 0 : ServerWebSocket.MaxHeaderSize;
        _isServer = isServer;
        Version = version;
        ApplicationProtocol = applicationProtocol;
        _options = options;
        _maxData = options.ReceiveWindow;
        _grantedStreamsBidi = _grantedStreamsUni = options.MaxConcurrentStreams;
        _local = new QMuxTransportParameters
        {
            MaxIdleTimeoutMs = (ulong)options.IdleTimeout.TotalMilliseconds,
            InitialMaxData = options.ReceiveWindow,
            InitialMaxStreamDataBidiLocal = options.StreamReceiveWindow,
            InitialMaxStreamDataBidiRemote = options.StreamReceiveWindow,
            InitialMaxStreamDataUni = options.StreamReceiveWindow,
            InitialMaxStreamsBidi = options.MaxConcurrentStreams,
            InitialMaxStreamsUni = options.MaxConcurrentStreams,
            MaxRecordSize = (ulong)options.MaxRecordSize,
        };
    }

    /// <summary>The QMux draft in use.</summary>
    public QMuxVersion Version { get; }

    /// <inheritdoc/>
    public override string ApplicationProtocol { get; }

    /// <inheritdoc/>
    public override string TransportName => "websocket";

    /// <inheritdoc/>
    public override Task<MoqCloseInfo> Closed => _closed.Task;

    /// <summary>
    /// Starts QMux on an open WebSocket whose subprotocol was negotiated as <c>{qmux draft}.{application protocol}</c>.
    /// </summary>
    public static QMuxConnection Start(WebSocket socket, bool isServer, QMuxVersion version, string applicationProtocol, QMuxOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (options is { MaxRecordSize: < (int)QMuxTransportParameters.DefaultMaxRecordSize or > MaxRecordSizeLimit })
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"MaxRecordSize must be between {QMuxTransportParameters.DefaultMaxRecordSize} and {MaxRecordSizeLimit}.");
        }
        var connection = new QMuxConnection(socket, isServer, version, applicationProtocol, options ?? new QMuxOptions());
        // Before anything can fail and shut it down, so that the shutdown always finds it to remove.
        if (connection.KeepsAlive)
        {
            QMuxKeepAlive.Add(connection, connection.KeepAlivePeriodMs);
        }
        var parameters = new ArrayBufferWriter<byte>(128);
        connection._local.WriteFrame(parameters, version);
        connection._control.Enqueue(parameters.WrittenSpan.ToArray());
        connection.Kick();
        _ = connection.ReceiveLoopAsync();
        return connection;
    }

    /// <summary>qmux-00 has no PING; an idle timeout of zero turns keep-alive off.</summary>
    private bool KeepsAlive => Version != QMuxVersion.Draft00 && _options.IdleTimeout != TimeSpan.Zero;

    /// <inheritdoc/>
    public override ValueTask<MoqTransportStream> OpenBidirectionalStreamAsync(CancellationToken cancellationToken = default) =>
        OpenAsync(unidirectional: false, cancellationToken);

    /// <inheritdoc/>
    public override ValueTask<MoqTransportStream> OpenUnidirectionalStreamAsync(CancellationToken cancellationToken = default) =>
        OpenAsync(unidirectional: true, cancellationToken);

    /// <inheritdoc/>
    /// <remarks>
    /// The caller's continuation runs on the connection's receive loop, with the stream's first bytes already
    /// delivered: parse there, but move work that may block (application code) to the thread pool first.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<MoqTransportStream> AcceptStreamAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            lock (_gate)
            {
                if (_acceptable.TryDequeue(out var stream))
                {
                    return stream;
                }
                if (_acceptClosed)
                {
                    break;
                }
            }
            await _acceptSignal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        throw new MoqConnectionClosedException(await _closed.Task.ConfigureAwait(false));
    }

    /// <inheritdoc/>
    public override async ValueTask CloseAsync(ulong code, string reason)
    {
        lock (_gate)
        {
            if (_closing)
            {
                return;
            }
            _closing = true;
            _control.Enqueue(CloseFrame(QMuxFrameType.ApplicationClose, code, reason));
        }
        Kick();
        Shutdown(new MoqCloseInfo(code, reason, ClosedByPeer: false));
        await _closed.Task.ConfigureAwait(false);
    }

    private async ValueTask<MoqTransportStream> OpenAsync(bool unidirectional, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (_closed.Task.IsCompleted || _closing)
                {
                    throw new MoqConnectionClosedException(_closed.Task.IsCompleted ? _closed.Task.Result : new MoqCloseInfo(0, "closing", false));
                }
                ref var opened = ref unidirectional ? ref _openedUni : ref _openedBidi;
                if (opened < (unidirectional ? _peerMaxStreamsUni : _peerMaxStreamsBidi))
                {
                    var id = (long)(opened << 2) | (_isServer ? 1L : 0L) | (unidirectional ? 2L : 0L);
                    opened++;
                    var stream = CreateStreamLocked(id, unidirectional, isLocal: true);
                    _streams[id] = stream;
                    return stream;
                }
                var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _openWaiters.Add((unidirectional, waiter));
                wait = waiter.Task;
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void Shutdown(MoqCloseInfo info)
    {
        if (!_closed.TrySetResult(info))
        {
            return;
        }
        if (KeepsAlive)
        {
            QMuxKeepAlive.Remove(this, KeepAlivePeriodMs);
        }
        var error = new MoqConnectionClosedException(info);
        List<QMuxStream> streams;
        lock (_gate)
        {
            streams = [.. _streams.Values];
            _streams.Clear();
            _ready.Clear();
            foreach (var (_, waiter) in _openWaiters)
            {
                waiter.TrySetException(error);
            }
            _openWaiters.Clear();
            _acceptClosed = true;
        }
        foreach (var stream in streams)
        {
            stream.Fail(error);
        }
        _acceptSignal.Set();
        Kick();
        _ = CloseSocketAsync();
    }

    private async Task CloseSocketAsync()
    {
        // Let the sender flush APPLICATION_CLOSE or CONNECTION_CLOSE first.
        await _sendDrained.Task.WaitAsync(TimeSpan.FromSeconds(2)).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        try
        {
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // The peer is gone already.
        }
        await _shutdown.CancelAsync().ConfigureAwait(false);
        _socket.Abort();
        _socket.Dispose();
    }

    private static byte[] CloseFrame(ulong type, ulong code, string reason)
    {
        var output = new ArrayBufferWriter<byte>(32 + reason.Length * 3);
        VarInt.Write(output, type);
        VarInt.Write(output, code);
        if (type == QMuxFrameType.ConnectionClose)
        {
            VarInt.Write(output, 0);
        }
        var bytes = System.Text.Encoding.UTF8.GetBytes(reason);
        VarInt.Write(output, (ulong)bytes.Length);
        output.Write(bytes);
        return output.WrittenSpan.ToArray();
    }

    private static byte[] Frame(ulong type, ulong a, ulong? b = null, ulong? c = null)
    {
        Span<byte> span = stackalloc byte[32];
        var n = VarInt.Write(span, type);
        n += VarInt.Write(span[n..], a);
        if (b is { } second)
        {
            n += VarInt.Write(span[n..], second);
        }
        if (c is { } third)
        {
            n += VarInt.Write(span[n..], third);
        }
        return span[..n].ToArray();
    }

    /// <summary>Queues a control frame for the next message sent. Caller holds <see cref="_gate"/>.</summary>
    private void QueueControlLocked(byte[] frame) => _control.Enqueue(frame);

    /// <summary>Fails the connection for a peer error: CONNECTION_CLOSE with the violation code.</summary>
    private void Fail(ProtocolViolationException violation)
    {
        lock (_gate)
        {
            if (_closing)
            {
                return;
            }
            _closing = true;
            _control.Enqueue(CloseFrame(QMuxFrameType.ConnectionClose, (ulong)MoqErrorCode.ProtocolViolation, violation.Message));
        }
        Kick();
        Shutdown(new MoqCloseInfo((ulong)MoqErrorCode.ProtocolViolation, violation.Message, ClosedByPeer: false));
    }
}
