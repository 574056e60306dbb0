using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MoqLite.Coding;
using MoqLite.Lite.Messages;
using MoqLite.Model;
using MoqLite.Transport;

namespace MoqLite.Lite;

// The subscriber half: discovering the peer's broadcasts, pulling their tracks, and receiving group streams.
public sealed partial class LiteSession
{
    private readonly ConcurrentDictionary<ulong, MoqTrack> _upstream = new();
    private long _nextSubscribeId = -1;

    /// <inheritdoc/>
    public override MoqBroadcast Consume(string path) =>
        new(new RemoteTrackSource(this, MoqPath.Normalize(path))) { Owner = this };

    /// <inheritdoc/>
    public override async IAsyncEnumerable<MoqAnnouncement> AnnouncedAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        prefix = MoqPath.Normalize(prefix);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, Closing);
        var stream = await _connection.OpenBidirectionalStreamAsync(cancel.Token).ConfigureAwait(false);
        try
        {
            var output = stream.Output!;
            VarInt.Write(output, (ulong)LiteBidiType.Announce);
            await PipeMessages.WriteAsync(output, new AnnounceRequest(prefix, _origin.Id), Version, cancel.Token).ConfigureAwait(false);
            var input = stream.Input!;
            ulong peerOrigin = 0;
            if (Version.HasAnnounceOk())
            {
                var ok = await PipeMessages.ReadRequiredAsync<AnnounceOk>(input, Version, _options.MaxMessageSize, cancel.Token).ConfigureAwait(false);
                peerOrigin = ok.Origin;
            }
            while (await PipeMessages.ReadAsync<AnnounceBroadcast>(input, Version, _options.MaxMessageSize, cancel.Token).ConfigureAwait(false) is { } message)
            {
                // Our own broadcasts reflected back by the peer are not news.
                if (message.Active && message.Hops.Contains(_origin.Id))
                {
                    continue;
                }
                var hops = peerOrigin != 0 && message.Active ? [.. message.Hops, peerOrigin] : message.Hops;
                var path = MoqPath.Join(prefix, message.Suffix);
                var broadcast = message.Active ? new MoqBroadcast(new RemoteTrackSource(this, path)) { Hops = hops, Owner = this } : null;
                yield return new MoqAnnouncement(message.Suffix, message.Active, broadcast);
            }
        }
        finally
        {
            await stream.CloseAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public override async ValueTask<GroupReader> FetchAsync(string broadcast, string track, ulong group, byte priority = 0, CancellationToken cancellationToken = default)
    {
        if (!Version.HasTrackStream())
        {
            throw new MoqException(MoqErrorCode.Unsupported, $"FETCH does not exist in {Protocol}");
        }
        var stream = await _connection.OpenBidirectionalStreamAsync(cancellationToken).ConfigureAwait(false);
        var output = stream.Output!;
        VarInt.Write(output, (ulong)LiteBidiType.Fetch);
        await PipeMessages.WriteAsync(output, new FetchRequest(MoqPath.Normalize(broadcast), track, priority, group), Version, cancellationToken).ConfigureAwait(false);
        var fetched = new MoqGroup(group, null);
        var reader = fetched.OpenReader();
        Run(async () =>
        {
            try
            {
                await ReadFramesAsync(stream.Input!, fetched).ConfigureAwait(false);
                fetched.Complete();
                await stream.CloseAsync().ConfigureAwait(false);
            }
            catch (MoqException ex)
            {
                fetched.Abort(ex.Code);
                throw;
            }
            catch
            {
                // Whatever ended the stream, the reader must see the group end; finishing also frees its storage.
                fetched.Abort(MoqErrorCode.Transport);
                throw;
            }
        }, "fetch", stream);
        return reader;
    }

    /// <summary>Publishes the peer's broadcasts under <paramref name="prefix"/> into the origin, withdrawing them when they end.</summary>
    private async Task MirrorAnnouncementsAsync(string prefix)
    {
        var live = new Dictionary<string, MoqBroadcast>(StringComparer.Ordinal);
        try
        {
            await foreach (var announcement in AnnouncedAsync(prefix, Closing).ConfigureAwait(false))
            {
                var originPath = ToOrigin(MoqPath.Join(prefix, announcement.Path));
                Log.PeerAnnounced(_logger, originPath, announcement.Active);
                if (live.Remove(announcement.Path, out var previous))
                {
                    previous.Close();
                }
                if (!announcement.Active)
                {
                    continue;
                }
                if (!MayPublish(originPath))
                {
                    Log.RequestRefused(_logger, "ANNOUNCE", originPath, MoqErrorCode.Unauthorized);
                    _options.Metrics?.Refused(MoqErrorCode.Unauthorized);
                    announcement.Broadcast!.Close();
                    continue;
                }
                if (live.Count >= _options.MaxAnnouncements)
                {
                    throw new MoqException(MoqErrorCode.BoundsExceeded, $"the peer announced more than {_options.MaxAnnouncements} broadcasts");
                }
                live[announcement.Path] = announcement.Broadcast!;
                _origin.Publish(originPath, announcement.Broadcast!);
            }
        }
        finally
        {
            // The announce stream ended (or the session did): everything it announced is gone.
            foreach (var broadcast in live.Values)
            {
                broadcast.Close();
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReceiveGroupAsync(MoqTransportStream stream)
    {
        var input = stream.Input!;
        var header = await PipeMessages.ReadRequiredAsync<GroupHeader>(input, Version, _options.MaxMessageSize, Closing).ConfigureAwait(false);
        if (CreateReceivedGroup(header) is not { } group)
        {
            stream.StopSending((ulong)MoqErrorCode.Cancel);
            return;
        }
        try
        {
            await ReadFramesAsync(input, group).ConfigureAwait(false);
            group.Complete();
        }
        catch (MoqException ex) when (ex is not ProtocolViolationException)
        {
            group.Abort(ex.Code);
        }
        catch
        {
            group.Abort(MoqErrorCode.Transport);
            throw;
        }
    }

    /// <summary>
    /// The group a GROUP header opens, or null when it is not wanted: its subscription was already closed here (or
    /// its track ended), or the track refuses the sequence. Neither is an error.
    /// </summary>
    /// <exception cref="ProtocolViolationException">The header names a subscription this session never issued.</exception>
    private MoqGroup? CreateReceivedGroup(GroupHeader header)
    {
        var latest = Interlocked.Read(ref _nextSubscribeId);
        if (latest < 0 || header.SubscribeId > (ulong)latest)
        {
            throw new ProtocolViolationException($"GROUP: subscription {header.SubscribeId} was never requested");
        }
        if (!_upstream.TryGetValue(header.SubscribeId, out var track) || track.IsCompleted)
        {
            return null;
        }
        try
        {
            return track.CreateGroup(header.Sequence);
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// A group stream that arrived whole goes from the transport's receive buffer straight into its group: the usual
    /// case for a group that fits one message. Anything else — another stream type, a malformed group, a subscription
    /// that is not (or no longer) ours, a group the track refuses — returns false before changing anything, and the
    /// stream path refuses or fails it as it would any stream. A group that fills a good part of the message's
    /// <paramref name="storage"/> keeps its frames there, with no copy; a small one is copied, so that a group held in a
    /// cache never pins a buffer many times its size.
    /// </summary>
    private bool TryReceiveWholeGroup(ReadOnlySequence<byte> stream, SharedBuffer? storage)
    {
        MoqGroup? group;
        try
        {
            if (!LiteCodec.TryReadVarInt(ref stream, out var type) || type != (ulong)LiteUniType.Group
                || !LiteCodec.TryRead<GroupHeader>(ref stream, Version, _options.MaxMessageSize, out var header)
                || !WriteWholeFrames(stream, group: null))
            {
                return false;
            }
            group = CreateReceivedGroup(header);
        }
        catch (ProtocolViolationException)
        {
            return false;
        }
        if (group is null)
        {
            return false;
        }
        try
        {
            WriteWholeFrames(stream, group, stream.Length * 8 >= storage?.Array.Length ? storage : null);
            group.Complete();
        }
        catch (MoqException ex)
        {
            group.Abort(ex.Code);
        }
        catch (InvalidOperationException)
        {
            // The group was finished from elsewhere first (its track ended): there is nobody left to deliver to.
        }
        return true;
    }

    /// <summary>
    /// Walks the frame records of a whole group, writing them into <paramref name="group"/> unless it is null (or
    /// having it adopt them where they lie in <paramref name="storage"/>); false if they are not exactly whole frames.
    /// </summary>
    private bool WriteWholeFrames(ReadOnlySequence<byte> frames, MoqGroup? group, SharedBuffer? storage = null)
    {
        long timestamp = 0;
        while (!frames.IsEmpty)
        {
            if (!FrameCodec.TryReadHeader(ref frames, Version, _options.MaxFrameSize, out var delta, out var length) || frames.Length < length)
            {
                return false;
            }
            timestamp += delta;
            if (group is not null)
            {
                var payload = frames.Slice(0, length);
                if (storage is not null && MemoryMarshal.TryGetArray(payload.First, out var lies) && lies.Array == storage.Array)
                {
                    group.AdoptFrame(storage, lies.Offset, lies.Count, timestamp);
                }
                else
                {
                    group.WriteFrame(payload, timestamp);
                }
                _options.Metrics?.FrameReceived(length);
            }
            frames = frames.Slice(length);
        }
        return true;
    }

    /// <summary>
    /// Reads frame records into <paramref name="group"/> until the stream's FIN. A frame that is not all buffered
    /// yet is staged in a pooled buffer so its bytes are consumed as they arrive: flow-control credit keeps flowing
    /// even when one frame is larger than the stream's receive window.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadFramesAsync(System.IO.Pipelines.PipeReader input, MoqGroup group)
    {
        long timestamp = 0;
        byte[]? staging = null;
        int stagingLength = 0, stagingFilled = 0;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(Closing).ConfigureAwait(false);
                var buffer = result.Buffer;
                while (true)
                {
                    if (staging is not null)
                    {
                        var take = (int)Math.Min(buffer.Length, stagingLength - stagingFilled);
                        buffer.Slice(0, take).CopyTo(staging.AsSpan(stagingFilled));
                        stagingFilled += take;
                        buffer = buffer.Slice(take);
                        if (stagingFilled < stagingLength)
                        {
                            break;
                        }
                        group.WriteFrame(staging.AsSpan(0, stagingLength), timestamp);
                        _options.Metrics?.FrameReceived(stagingLength);
                        BufferPool.Shared.Return(staging);
                        staging = null;
                        continue;
                    }
                    var rest = buffer;
                    if (!FrameCodec.TryReadHeader(ref rest, Version, _options.MaxFrameSize, out var delta, out var length))
                    {
                        break;
                    }
                    timestamp += delta;
                    buffer = rest;
                    if (rest.Length >= length)
                    {
                        group.WriteFrame(rest.Slice(0, length), timestamp);
                        _options.Metrics?.FrameReceived(length);
                        buffer = rest.Slice(length);
                        continue;
                    }
                    staging = BufferPool.Shared.Rent(length);
                    stagingLength = length;
                    stagingFilled = 0;
                }
                if (result.IsCompleted)
                {
                    if (!buffer.IsEmpty || staging is not null)
                    {
                        throw new ProtocolViolationException("FRAME: group stream ended in the middle of a frame");
                    }
                    input.AdvanceTo(buffer.End);
                    return;
                }
                input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        finally
        {
            if (staging is not null)
            {
                BufferPool.Shared.Return(staging);
            }
        }
    }

    /// <summary>
    /// Pulls tracks of one of the peer's broadcasts: TRACK for the properties, then one SUBSCRIBE that lives
    /// exactly as long as the track has subscribers here.
    /// </summary>
    private sealed class RemoteTrackSource(LiteSession session, string path) : IMoqTrackSource
    {
        public async ValueTask<MoqTrack?> CreateTrackAsync(MoqBroadcast broadcast, string name, CancellationToken cancellationToken)
        {
            if (!session._connection.CanOpenBidirectionalStreams)
            {
                throw new MoqException(MoqErrorCode.Unsupported, "this transport cannot open streams to pull from the peer");
            }
            var info = Model.TrackInfo.Default;
            if (session.Version.HasTrackStream())
            {
                var stream = await session._connection.OpenBidirectionalStreamAsync(cancellationToken).ConfigureAwait(false);
                var output = stream.Output!;
                VarInt.Write(output, (ulong)LiteBidiType.Track);
                await PipeMessages.WriteAsync(output, new TrackRequest(path, name), session.Version, cancellationToken).ConfigureAwait(false);
                TrackInfoMessage? reply;
                try
                {
                    reply = await PipeMessages.ReadAsync<TrackInfoMessage>(stream.Input!, session.Version, session._options.MaxMessageSize, cancellationToken).ConfigureAwait(false);
                }
                catch (MoqStreamAbortedException)
                {
                    return null;
                }
                await stream.CloseAsync().ConfigureAwait(false);
                if (reply is not { } m)
                {
                    return null;
                }
                info = new Model.TrackInfo(m.Priority, m.Ordered, TimeSpan.FromMilliseconds(m.LatencyMaxMs), m.Timescale);
            }
            var track = new MoqTrack(name, info, session._options.MaxCachedGroups);
            track.Active += t => session.Run(() => SubscribeAsync(t), "subscribe");
            return track;
        }

        private async Task SubscribeAsync(MoqTrack track)
        {
            var id = (ulong)Interlocked.Increment(ref session._nextSubscribeId);
            session._upstream[id] = track;
            MoqTransportStream? stream = null;
            try
            {
                stream = await session._connection.OpenBidirectionalStreamAsync(session.Closing).ConfigureAwait(false);
                var output = stream.Output!;
                VarInt.Write(output, (ulong)LiteBidiType.Subscribe);
                var info = track.Info;
                await PipeMessages.WriteAsync(output, new Subscribe(id, path, track.Name, info.Priority, info.Ordered, 0, null, null), session.Version, session.Closing).ConfigureAwait(false);
                using var idle = new CancellationTokenSource();
                void OnIdle(MoqTrack _)
                {
                    try
                    {
                        idle.Cancel();
                    }
                    catch (ObjectDisposedException)
                    {
                        // Raced with this upstream ending: nothing left to cancel.
                    }
                }
                track.Idle += OnIdle;
                // Detach before the token source goes: a local subscriber may leave long after this upstream ended.
                using var detach = new IdleDetach(track, OnIdle);
                using var cancel = CancellationTokenSource.CreateLinkedTokenSource(idle.Token, session.Closing);
                var input = stream.Input!;
                var parser = new SubscribeResponseParser(session.Version, session._options.MaxMessageSize);
                while (await PipeMessages.ReadAsync<SubscribeResponse, SubscribeResponseParser>(input, parser, cancel.Token).ConfigureAwait(false) is { } response)
                {
                    if (response.Kind == SubscribeResponseKind.End)
                    {
                        // Groups still in flight finish on their own streams; the track ends with the subscription.
                        continue;
                    }
                }
                track.Complete();
                await stream.CloseAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!session.Closing.IsCancellationRequested)
            {
                // The last local subscriber left: unsubscribe upstream.
                await stream!.CloseAsync().ConfigureAwait(false);
                track.Complete();
            }
            catch (MoqException ex) when (ex is not ProtocolViolationException)
            {
                track.Abort(ex.Code);
            }
            finally
            {
                session._upstream.TryRemove(id, out _);
                // However the upstream ended (the session closing, the transport failing), the local track ends with
                // it, so its subscribers are told rather than left waiting. A no-op when it already ended.
                track.Abort(MoqErrorCode.Closed);
            }
        }

        private readonly struct IdleDetach(MoqTrack track, Action<MoqTrack> handler) : IDisposable
        {
            public void Dispose() => track.Idle -= handler;
        }
    }
}
