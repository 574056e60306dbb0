using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MoqLite.Coding;
using MoqLite.Lite.Messages;
using MoqLite.Model;
using MoqLite.Session;
using MoqLite.Transport;

namespace MoqLite.Lite;

/// <summary>
/// The moq-lite-03/04/05 session mapping. Every stream the peer opens is handled on its own task; a protocol
/// violation on any of them closes this session (and only this one) with <see cref="MoqErrorCode.ProtocolViolation"/>.
/// </summary>
public sealed partial class LiteSession : MoqSession
{
    private readonly MoqTransportConnection _connection;
    private readonly MoqOrigin _origin;
    private readonly MoqSessionOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource _rootKnown = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string _root;
    private int _setupReceived;

    private LiteSession(MoqTransportConnection connection, LiteVersion version, MoqOrigin origin, MoqSessionOptions options, ILogger? logger)
    {
        _connection = connection;
        Version = version;
        _origin = origin;
        _options = options;
        _root = MoqPath.Normalize(options.Root);
        if (!AwaitsSetupPath)
        {
            _rootKnown.SetResult();
        }
        _logger = logger ?? NullLogger.Instance;
        connection.WholeStreamReceived = TryReceiveWholeGroup;
        Completion = RunAsync();
    }

    /// <summary>The negotiated lite version.</summary>
    public LiteVersion Version { get; }

    /// <summary>The peer's SETUP, once received (lite-05).</summary>
    public Setup? PeerSetup { get; private set; }

    /// <inheritdoc/>
    public override string Protocol => Version.Alpn();

    /// <inheritdoc/>
    public override MoqTransportConnection Connection => _connection;

    /// <inheritdoc/>
    public override MoqOrigin Origin => _origin;

    /// <inheritdoc/>
    public override Task<MoqCloseInfo> Completion { get; }

    private CancellationToken Closing => _closing.Token;

    /// <summary>
    /// On raw QUIC there is no request URI: a server learns the client's path from SETUP, so it serves nothing that
    /// depends on its namespace root before SETUP arrives.
    /// </summary>
    private bool AwaitsSetupPath => _options.SetupPath is null && _connection.TransportName == "quic" && Version.HasSetupStream();

    /// <summary>
    /// Starts a session on <paramref name="connection"/>, whose application protocol names the lite version.
    /// </summary>
    /// <exception cref="MoqException">The connection's protocol is not a supported lite version.</exception>
    public static LiteSession Start(MoqTransportConnection connection, MoqOrigin origin, MoqSessionOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(origin);
        options ??= new MoqSessionOptions();
        options.Validate();
        if (!LiteVersions.TryParseAlpn(connection.ApplicationProtocol, out var version))
        {
            throw new MoqException(MoqErrorCode.Version, $"'{connection.ApplicationProtocol}' is not a supported moq-lite version");
        }
        return new LiteSession(connection, version, origin, options, logger);
    }

    /// <inheritdoc/>
    public override ValueTask CloseAsync(MoqErrorCode code = MoqErrorCode.Cancel, string reason = "") =>
        _connection.CloseAsync((ulong)code, reason);

    /// <inheritdoc/>
    public override async ValueTask GoawayAsync(string uri, CancellationToken cancellationToken = default)
    {
        if (!Version.HasGoaway())
        {
            throw new MoqException(MoqErrorCode.Unsupported, $"GOAWAY does not exist in {Protocol}");
        }
        var stream = await _connection.OpenBidirectionalStreamAsync(cancellationToken).ConfigureAwait(false);
        var output = stream.Output!;
        VarInt.Write(output, (ulong)LiteBidiType.Goaway);
        await PipeMessages.WriteAsync(output, new Goaway(uri), Version, cancellationToken).ConfigureAwait(false);
        await output.CompleteAsync().ConfigureAwait(false);
    }

    private async Task<MoqCloseInfo> RunAsync()
    {
        // Yield so the constructor returns before any stream work starts.
        await Task.Yield();
        Log.SessionStarted(_logger, Protocol, _connection.TransportName, _root);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        _options.Metrics?.SessionStarted(_connection.TransportName);
        var accept = AcceptLoopAsync();
        Run(SendSetupAsync, "setup");
        if (_options.AnnounceOnStart && _connection.CanOpenBidirectionalStreams)
        {
            Run(async () =>
            {
                await _rootKnown.Task.WaitAsync(Closing).ConfigureAwait(false);
                await MirrorAnnouncementsAsync(string.Empty).ConfigureAwait(false);
            }, "announce");
        }
        var info = await _connection.Closed.ConfigureAwait(false);
        await _closing.CancelAsync().ConfigureAwait(false);
        await accept.ConfigureAwait(false);
        Log.SessionEnded(_logger, info.Code, info.Reason, info.ClosedByPeer);
        _options.Metrics?.SessionEnded(_connection.TransportName, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        return info;
    }

    private async Task SendSetupAsync()
    {
        if (!Version.HasSetupStream())
        {
            return;
        }
        var stream = await _connection.OpenUnidirectionalStreamAsync(Closing).ConfigureAwait(false);
        var output = stream.Output!;
        VarInt.Write(output, (ulong)LiteUniType.Setup);
        await PipeMessages.WriteAsync(output, new Setup(0, _options.SetupPath, SetupRole.Both, _origin.Id), Version, Closing).ConfigureAwait(false);
        await output.CompleteAsync().ConfigureAwait(false);
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            MoqTransportStream stream;
            try
            {
                stream = await _connection.AcceptStreamAsync(Closing).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is MoqConnectionClosedException or OperationCanceledException or IOException)
            {
                return;
            }
            // Group and setup streams are parsed wherever the transport hands them over (QMux: its receive loop);
            // request streams move to the thread pool, since serving them may run application code.
            Run(stream.IsUnidirectional ? DispatchAsync(stream) : DispatchOnThreadPoolAsync(stream), "stream", stream);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask DispatchOnThreadPoolAsync(MoqTransportStream stream)
    {
        await Task.Yield();
        await DispatchAsync(stream).ConfigureAwait(false);
    }

    // Pooled: a group stream runs through here once per group.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask DispatchAsync(MoqTransportStream stream)
    {
        var type = await PipeMessages.ReadVarIntAsync(stream.Input!, Closing).ConfigureAwait(false);
        if (type is not { } kind)
        {
            return;
        }
        if (stream.IsUnidirectional)
        {
            switch ((LiteUniType)kind)
            {
                case LiteUniType.Group:
                    await ReceiveGroupAsync(stream).ConfigureAwait(false);
                    return;
                case LiteUniType.Setup when Version.HasSetupStream():
                    await ReceiveSetupAsync(stream).ConfigureAwait(false);
                    return;
            }
        }
        else
        {
            if ((LiteBidiType)kind != LiteBidiType.Goaway)
            {
                await _rootKnown.Task.WaitAsync(Closing).ConfigureAwait(false);
            }
            switch ((LiteBidiType)kind)
            {
                case LiteBidiType.Announce:
                    await ServeAnnounceAsync(stream).ConfigureAwait(false);
                    return;
                case LiteBidiType.Subscribe:
                    await ServeSubscribeAsync(stream).ConfigureAwait(false);
                    return;
                case LiteBidiType.Track when Version.HasTrackStream():
                    await ServeTrackAsync(stream).ConfigureAwait(false);
                    return;
                case LiteBidiType.Fetch when Version.HasTrackStream():
                    await ServeFetchAsync(stream).ConfigureAwait(false);
                    return;
                case LiteBidiType.Goaway when Version.HasGoaway():
                    await ReceiveGoawayAsync(stream).ConfigureAwait(false);
                    return;
            }
        }
        // Unknown or unsupported stream types (PROBE among them: we never advertise it) are refused, not fatal.
        Log.StreamRefused(_logger, kind, stream.IsUnidirectional);
        stream.StopSending((ulong)MoqErrorCode.UnexpectedStream);
        stream.Output?.Complete(new MoqException(MoqErrorCode.UnexpectedStream, "unexpected stream"));
        stream.Reset((ulong)MoqErrorCode.UnexpectedStream);
    }

    private async Task ReceiveSetupAsync(MoqTransportStream stream)
    {
        if (Interlocked.Exchange(ref _setupReceived, 1) != 0)
        {
            throw new ProtocolViolationException("SETUP: a second Setup stream");
        }
        PeerSetup = await PipeMessages.ReadRequiredAsync<Setup>(stream.Input!, Version, _options.MaxMessageSize, Closing).ConfigureAwait(false);
        if (PeerSetup.Value.Path is { Length: > 0 } && !string.Equals(_connection.TransportName, "quic", StringComparison.Ordinal))
        {
            throw new ProtocolViolationException("SETUP: the Path parameter is only allowed on transports without a request URI");
        }
        if (AwaitsSetupPath && PeerSetup.Value.Path is { } path)
        {
            // The query (a token, say) is not part of the namespace.
            _root = MoqPath.Join(_root, MoqPath.Normalize(path.Split('?', 2)[0], "SETUP path"));
            Log.RootFromSetup(_logger, _root);
        }
        _rootKnown.TrySetResult();
        stream.StopSending((ulong)MoqErrorCode.Cancel);
    }

    private async Task ReceiveGoawayAsync(MoqTransportStream stream)
    {
        var goaway = await PipeMessages.ReadRequiredAsync<Goaway>(stream.Input!, Version, _options.MaxMessageSize, Closing).ConfigureAwait(false);
        Log.GoawayReceived(_logger, goaway.Uri);
        OnGoaway(goaway.Uri);
        await stream.CloseAsync().ConfigureAwait(false);
    }

    /// <summary>Runs one stream's work, mapping its failure onto the stream or, for a violation, the session.</summary>
    private void Run(Func<Task> work, string what, MoqTransportStream? stream = null) => Run(new ValueTask(work()), what, stream);

    /// <summary>Sees work through, containing its failure to its stream; work that already finished costs nothing more.</summary>
    private void Run(ValueTask work, string what, MoqTransportStream? stream = null)
    {
        if (work.IsCompletedSuccessfully)
        {
            work.GetAwaiter().GetResult();
            Release(stream);
            return;
        }
        _ = RunGuardedAsync(work, what, stream);
    }

    /// <summary>
    /// Hands an accepted unidirectional stream back to the transport once its work is over: every read of it was
    /// awaited, so nothing touches it again, and a subscriber receives a stream per group.
    /// </summary>
    private static void Release(MoqTransportStream? stream)
    {
        if (stream is { IsUnidirectional: true })
        {
            stream.Release();
        }
    }

    private async Task RunGuardedAsync(ValueTask work, string what, MoqTransportStream? stream)
    {
        try
        {
            await work.ConfigureAwait(false);
        }
        catch (ProtocolViolationException ex)
        {
            Log.ProtocolViolation(_logger, ex.Message);
            await _connection.CloseAsync((ulong)MoqErrorCode.ProtocolViolation, ex.Message).ConfigureAwait(false);
        }
        catch (Exception) when (Closing.IsCancellationRequested)
        {
            // The session is ending; whatever this stream was doing ends with it.
        }
        catch (MoqException ex)
        {
            Log.StreamFailed(_logger, what, ex.Code, ex.Message);
            _options.Metrics?.Refused(ex.Code);
            Abort(stream, (ulong)ex.Code);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException or ObjectDisposedException)
        {
            Log.StreamFailed(_logger, what, MoqErrorCode.Transport, ex.Message);
            Abort(stream, (ulong)MoqErrorCode.Transport);
        }
#pragma warning disable CA1031 // A handler bug must cost one stream, never the host process.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.UnexpectedError(_logger, what, ex);
            Abort(stream, (ulong)MoqErrorCode.Transport);
        }
        finally
        {
            Release(stream);
        }
    }

    private static void Abort(MoqTransportStream? stream, ulong code)
    {
        if (stream is null)
        {
            return;
        }
        stream.Reset(code);
        stream.StopSending(code);
    }

    private string ToOrigin(string wirePath) => MoqPath.Join(_root, wirePath);

    private bool MaySubscribe(string originPath) => _options.CanSubscribe?.Invoke(originPath) ?? true;

    private bool MayPublish(string originPath) => _options.CanPublish?.Invoke(originPath) ?? true;

    /// <summary>Send priority: subscriber priority first, then newest group first unless the subscription is ordered.</summary>
    internal static long GroupSendPriority(byte priority, bool ordered, ulong sequence)
    {
        var position = (long)(sequence & ((1UL << 39) - 1));
        return ((long)priority << 40) + (ordered ? -position : position);
    }

    private static partial class Log
    {
        [LoggerMessage(10, LogLevel.Debug, "Namespace root from the client's SETUP path: '{Root}'", EventName = "RootFromSetup")]
        public static partial void RootFromSetup(ILogger logger, string root);

        [LoggerMessage(1, LogLevel.Debug, "MOQ session started: {Protocol} over {Transport}, root '{Root}'", EventName = "SessionStarted")]
        public static partial void SessionStarted(ILogger logger, string protocol, string transport, string root);

        [LoggerMessage(2, LogLevel.Debug, "MOQ session ended with code {Code} ({Reason}), by peer: {ByPeer}", EventName = "SessionEnded")]
        public static partial void SessionEnded(ILogger logger, ulong code, string reason, bool byPeer);

        [LoggerMessage(3, LogLevel.Warning, "MOQ protocol violation: {Reason}", EventName = "ProtocolViolation")]
        public static partial void ProtocolViolation(ILogger logger, string reason);

        [LoggerMessage(4, LogLevel.Debug, "MOQ {What} stream failed with {Code}: {Reason}", EventName = "StreamFailed")]
        public static partial void StreamFailed(ILogger logger, string what, MoqErrorCode code, string reason);

        [LoggerMessage(5, LogLevel.Error, "MOQ {What} stream handler failed unexpectedly", EventName = "UnexpectedError")]
        public static partial void UnexpectedError(ILogger logger, string what, Exception exception);

        [LoggerMessage(6, LogLevel.Debug, "MOQ refused stream type {Type} (unidirectional: {Unidirectional})", EventName = "StreamRefused")]
        public static partial void StreamRefused(ILogger logger, ulong type, bool unidirectional);

        [LoggerMessage(7, LogLevel.Information, "MOQ peer sent GOAWAY to '{Uri}'", EventName = "GoawayReceived")]
        public static partial void GoawayReceived(ILogger logger, string uri);

        [LoggerMessage(8, LogLevel.Debug, "MOQ refused {Request} for '{Path}': {Code}", EventName = "RequestRefused")]
        public static partial void RequestRefused(ILogger logger, string request, string path, MoqErrorCode code);

        [LoggerMessage(9, LogLevel.Debug, "MOQ peer announced '{Path}' (active: {Active})", EventName = "PeerAnnounced")]
        public static partial void PeerAnnounced(ILogger logger, string path, bool active);
    }
}
