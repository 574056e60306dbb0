using System.IO.Pipelines;
using System.Net;
using System.Net.Quic;
using System.Net.Security;
using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;
using MoqLite.Lite;

namespace MoqLite.Transport.Quic;

/// <summary>
/// Raw QUIC (System.Net.Quic, backed by libmsquic) with ALPN <c>moq-lite-05</c>, <c>-04</c> or <c>-03</c>.
/// Check <see cref="IsSupported"/>: without libmsquic the platform has no QUIC.
/// </summary>
public static class QuicTransport
{
    /// <summary>Whether this machine can run QUIC (libmsquic is present).</summary>
    [SupportedOSPlatformGuard("linux")]
    [SupportedOSPlatformGuard("windows")]
    [SupportedOSPlatformGuard("osx")]
    public static bool IsSupported => QuicConnection.IsSupported && QuicListener.IsSupported;

    /// <summary>Connects to <c>moqt://host:port/…</c>, offering the given lite versions as ALPN.</summary>
    [SupportedOSPlatform("linux")]
    [SupportedOSPlatform("windows")]
    [SupportedOSPlatform("osx")]
    public static async Task<MoqTransportConnection> ConnectAsync(Uri uri, IReadOnlyList<LiteVersion> versions, RemoteCertificateValidationCallback? validation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!IsSupported)
        {
            throw new PlatformNotSupportedException("QUIC is not available: System.Net.Quic needs libmsquic (install the libmsquic package from Microsoft's Linux repository).");
        }
        var endpoint = IPAddress.TryParse(uri.Host, out var address) ? (EndPoint)new IPEndPoint(address, uri.Port) : new DnsEndPoint(uri.Host, uri.Port);
        var connection = await QuicConnection.ConnectAsync(new QuicClientConnectionOptions
        {
            RemoteEndPoint = endpoint,
            DefaultStreamErrorCode = (long)MoqErrorCode.Cancel,
            DefaultCloseErrorCode = (long)MoqErrorCode.Cancel,
            MaxInboundBidirectionalStreams = 1000,
            MaxInboundUnidirectionalStreams = 1000,
            ClientAuthenticationOptions = new SslClientAuthenticationOptions
            {
                TargetHost = uri.Host,
                ApplicationProtocols = [.. versions.Select(v => new SslApplicationProtocol(v.Alpn()))],
                RemoteCertificateValidationCallback = validation,
            },
        }, cancellationToken).ConfigureAwait(false);
        return new QuicMoqConnection(connection);
    }

    /// <summary>Listens for raw QUIC MOQ connections on <paramref name="endpoint"/>.</summary>
    [SupportedOSPlatform("linux")]
    [SupportedOSPlatform("windows")]
    [SupportedOSPlatform("osx")]
    public static async Task<QuicMoqListener> ListenAsync(IPEndPoint endpoint, X509Certificate2 certificate, IReadOnlyList<LiteVersion>? versions = null, CancellationToken cancellationToken = default)
    {
        if (!IsSupported)
        {
            throw new PlatformNotSupportedException("QUIC is not available: System.Net.Quic needs libmsquic.");
        }
        var alpn = (versions ?? LiteVersions.All).Select(v => new SslApplicationProtocol(v.Alpn())).ToList();
        var listener = await QuicListener.ListenAsync(new QuicListenerOptions
        {
            ListenEndPoint = endpoint,
            ApplicationProtocols = alpn,
            ConnectionOptionsCallback = (_, _, _) => ValueTask.FromResult(ServerOptions(certificate, alpn)),
        }, cancellationToken).ConfigureAwait(false);
        return new QuicMoqListener(listener);
    }

    [SupportedOSPlatform("linux")]
    [SupportedOSPlatform("windows")]
    [SupportedOSPlatform("osx")]
    private static QuicServerConnectionOptions ServerOptions(X509Certificate2 certificate, List<SslApplicationProtocol> alpn) => new()
    {
        DefaultStreamErrorCode = (long)MoqErrorCode.Cancel,
        DefaultCloseErrorCode = (long)MoqErrorCode.Cancel,
        MaxInboundBidirectionalStreams = 1000,
        MaxInboundUnidirectionalStreams = 1000,
        ServerAuthenticationOptions = new SslServerAuthenticationOptions
        {
            ApplicationProtocols = alpn,
            ServerCertificate = certificate,
        },
    };
}

/// <summary>Accepts raw QUIC MOQ connections.</summary>
[SupportedOSPlatform("linux")]
[SupportedOSPlatform("windows")]
[SupportedOSPlatform("osx")]
public sealed class QuicMoqListener : IAsyncDisposable
{
    private readonly QuicListener _listener;

    internal QuicMoqListener(QuicListener listener) => _listener = listener;

    /// <summary>The bound address (with the actual port when 0 was asked for).</summary>
    public IPEndPoint LocalEndPoint => _listener.LocalEndPoint;

    /// <summary>Waits for the next connection.</summary>
    public async ValueTask<MoqTransportConnection> AcceptAsync(CancellationToken cancellationToken = default) =>
        new QuicMoqConnection(await _listener.AcceptConnectionAsync(cancellationToken).ConfigureAwait(false));

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => _listener.DisposeAsync();
}

[SupportedOSPlatform("linux")]
[SupportedOSPlatform("windows")]
[SupportedOSPlatform("osx")]
internal sealed class QuicMoqConnection : MoqTransportConnection
{
    private readonly QuicConnection _connection;
    private readonly TaskCompletionSource<MoqCloseInfo> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public QuicMoqConnection(QuicConnection connection) => _connection = connection;

    public override string ApplicationProtocol => _connection.NegotiatedApplicationProtocol.ToString();

    public override string TransportName => "quic";

    public override Task<MoqCloseInfo> Closed => _closed.Task;

    public override async ValueTask<MoqTransportStream> OpenBidirectionalStreamAsync(CancellationToken cancellationToken = default) =>
        new QuicMoqStream(await Guard(_connection.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, cancellationToken)).ConfigureAwait(false));

    public override async ValueTask<MoqTransportStream> OpenUnidirectionalStreamAsync(CancellationToken cancellationToken = default) =>
        new QuicMoqStream(await Guard(_connection.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, cancellationToken)).ConfigureAwait(false));

    public override async ValueTask<MoqTransportStream> AcceptStreamAsync(CancellationToken cancellationToken = default) =>
        new QuicMoqStream(await Guard(_connection.AcceptInboundStreamAsync(cancellationToken)).ConfigureAwait(false));

    public override async ValueTask CloseAsync(ulong code, string reason)
    {
        if (_closed.Task.IsCompleted)
        {
            return;
        }
        try
        {
            await _connection.CloseAsync((long)code).ConfigureAwait(false);
        }
        catch (QuicException)
        {
            // Already closed by the peer.
        }
        _closed.TrySetResult(new MoqCloseInfo(code, reason, ClosedByPeer: false));
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    private async ValueTask<QuicStream> Guard(ValueTask<QuicStream> pending)
    {
        try
        {
            return await pending.ConfigureAwait(false);
        }
        catch (QuicException ex) when (ex.QuicError is QuicError.ConnectionAborted or QuicError.ConnectionIdle or QuicError.ConnectionTimeout or QuicError.OperationAborted)
        {
            var info = new MoqCloseInfo((ulong)(ex.ApplicationErrorCode ?? 0), ex.Message, ClosedByPeer: ex.QuicError != QuicError.OperationAborted);
            _closed.TrySetResult(info);
            throw new MoqConnectionClosedException(info);
        }
    }
}

[SupportedOSPlatform("linux")]
[SupportedOSPlatform("windows")]
[SupportedOSPlatform("osx")]
internal sealed class QuicMoqStream : MoqTransportStream
{
    private readonly QuicStream _stream;
    private readonly TaskCompletionSource _readingDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public QuicMoqStream(QuicStream stream)
    {
        _stream = stream;
        if (stream.CanRead)
        {
            Input = new QuicReceiveReader(stream, ReadingDone);
        }
        if (stream.CanWrite)
        {
            Output = new QuicSendWriter(stream);
        }
        _ = DisposeWhenClosedAsync();
    }

    public override long Id => _stream.Id;

    private void ReadingDone() => _readingDone.TrySetResult();

    public override bool IsUnidirectional => _stream.Type == QuicStreamType.Unidirectional;

    public override bool IsLocal => (_stream.Id & 1) == 0 == !IsServerInitiated;

    public override PipeReader? Input { get; }

    public override PipeWriter? Output { get; }

    private bool IsServerInitiated => (_stream.Id & 1) == 1;

    public override void Reset(ulong code) => Abort(QuicAbortDirection.Write, code);

    /// <inheritdoc/>
    /// <remarks>
    /// QUIC buffers what a stream writes; the writing side closes once the peer acknowledged it all (or it was
    /// aborted), which is when a group has really left.
    /// </remarks>
    public override Task SendCompleted => _stream.CanWrite ? WhenWritesClosedAsync() : Task.CompletedTask;

    private async Task WhenWritesClosedAsync()
    {
        try
        {
            await _stream.WritesClosed.ConfigureAwait(false);
        }
        catch (QuicException)
        {
            // Aborted or the connection went away: either way nothing more will be sent.
        }
    }

    public override void StopSending(ulong code)
    {
        Abort(QuicAbortDirection.Read, code);
        ReadingDone();
    }

    /// <summary>Aborts a direction; a stream already finished and released has nothing left to abort, as in QMux.</summary>
    private void Abort(QuicAbortDirection direction, ulong code)
    {
        try
        {
            _stream.Abort(direction, (long)code);
        }
        catch (ObjectDisposedException)
        {
            // Both directions were over and the stream released: nothing to abort.
        }
    }

    /// <summary>
    /// Releases the native stream once both directions are over: read to its end, failed or stopped (as our reader
    /// reports it: QUIC's own ReadsClosed fires on the FIN while bytes may still be unread), and written and
    /// acknowledged or reset. Left to its finalizer, every group stream held its native handle for a collection or more.
    /// </summary>
    private async Task DisposeWhenClosedAsync()
    {
        if (_stream.CanRead)
        {
            await _readingDone.Task.ConfigureAwait(false);
        }
        try
        {
            await _stream.WritesClosed.ConfigureAwait(false);
        }
        catch (QuicException)
        {
            // Reset or aborted: closed all the same.
        }
        try
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is QuicException or ObjectDisposedException)
        {
            // The connection went first and took the stream with it.
        }
    }

    /// <summary>
    /// The transport-neutral form of a QUIC failure: a peer reset or STOP_SENDING becomes
    /// <see cref="MoqStreamAbortedException"/> with the peer's code, a lost connection an <see cref="IOException"/>.
    /// </summary>
    internal static Exception? Map(QuicException ex) => ex.QuicError switch
    {
        QuicError.StreamAborted => new MoqStreamAbortedException((ulong)(ex.ApplicationErrorCode ?? 0), "the peer aborted the stream: " + ex.Message),
        QuicError.ConnectionAborted or QuicError.ConnectionIdle or QuicError.ConnectionTimeout or QuicError.OperationAborted => new IOException(ex.Message, ex),
        _ => null,
    };
}
