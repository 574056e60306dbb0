using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using MoqLite.Coding;
using MoqLite.Lite.Messages;
using MoqLite.Model;
using MoqLite.Transport;

namespace MoqLite.Lite;

// The publisher half: answering the peer's Announce, Track, Subscribe and Fetch streams from the origin.
public sealed partial class LiteSession
{
    private int _servedSubscriptions;

    private async Task ServeAnnounceAsync(MoqTransportStream stream)
    {
        var request = await PipeMessages.ReadRequiredAsync<AnnounceRequest>(stream.Input!, Version, _options.MaxMessageSize, Closing).ConfigureAwait(false);
        var prefix = ToOrigin(request.Prefix);
        using var watcher = _origin.Watch(prefix);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Closing);
        // The peer ends discovery by closing its side of the stream.
        var peerDone = WatchForEndAsync(stream.Input!, cancel);
        var output = stream.Output!;
        var announced = new HashSet<string>(StringComparer.Ordinal);

        if (Version.HasAnnounceOk())
        {
            var initial = new List<MoqAnnouncement>();
            while (watcher.Reader.TryRead(out var announcement))
            {
                if (announcement.Active && Visible(announcement, prefix, request.ExcludeHop))
                {
                    initial.Add(announcement);
                }
            }
            LiteCodec.Write(output, new AnnounceOk(_origin.Id, (ulong)initial.Count), Version);
            foreach (var announcement in initial)
            {
                WriteAnnouncement(output, announcement, announced);
            }
            await PipeMessages.FlushAsync(output, cancel.Token).ConfigureAwait(false);
        }

        try
        {
            await foreach (var announcement in watcher.Reader.ReadAllAsync(cancel.Token).ConfigureAwait(false))
            {
                if (announcement.Active ? Visible(announcement, prefix, request.ExcludeHop) : announced.Contains(announcement.Path))
                {
                    WriteAnnouncement(output, announcement, announced);
                    await PipeMessages.FlushAsync(output, cancel.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (peerDone.IsCompleted && !Closing.IsCancellationRequested)
        {
            await stream.CloseAsync().ConfigureAwait(false);
        }
    }

    private bool Visible(MoqAnnouncement announcement, string prefix, ulong excludeHop)
    {
        var broadcast = announcement.Broadcast!;
        // Never echo a broadcast back to the session it came from, nor along a route through the requester.
        return !ReferenceEquals(broadcast.Owner, this)
            && (excludeHop == 0 || !broadcast.Hops.Contains(excludeHop))
            && MaySubscribe(MoqPath.Join(prefix, announcement.Path));
    }

    private void WriteAnnouncement(PipeWriter output, MoqAnnouncement announcement, HashSet<string> announced)
    {
        ulong[] hops = [];
        if (announcement.Active)
        {
            announced.Add(announcement.Path);
            var chain = announcement.Broadcast!.Hops;
            // lite-05 reports our id once in ANNOUNCE_OK; older versions append it to every chain.
            hops = Version.HasAnnounceOk() ? [.. chain] : [.. chain, _origin.Id];
            if (hops.Length > AnnounceBroadcast.MaxHops)
            {
                return;
            }
        }
        else
        {
            announced.Remove(announcement.Path);
        }
        LiteCodec.Write(output, new AnnounceBroadcast(announcement.Active, announcement.Path, hops), Version);
    }

    private async Task ServeTrackAsync(MoqTransportStream stream)
    {
        var request = await PipeMessages.ReadRequiredAsync<TrackRequest>(stream.Input!, Version, _options.MaxMessageSize, Closing).ConfigureAwait(false);
        var track = await ResolveTrackAsync("TRACK", request.Broadcast, request.Track).ConfigureAwait(false);
        var info = track.Info;
        await PipeMessages.WriteAsync(stream.Output!, new TrackInfoMessage(info.Priority, info.Ordered, (ulong)info.LatencyMax.TotalMilliseconds, info.Timescale), Version, Closing).ConfigureAwait(false);
        await stream.CloseAsync().ConfigureAwait(false);
    }

    private async Task<MoqTrack> ResolveTrackAsync(string request, string wireBroadcast, string trackName)
    {
        var path = ToOrigin(wireBroadcast);
        if (!MaySubscribe(path))
        {
            Log.RequestRefused(_logger, request, path, MoqErrorCode.Unauthorized);
            throw new MoqException(MoqErrorCode.Unauthorized, $"not allowed to subscribe to '{path}'");
        }
        var broadcast = _origin.TryGetBroadcast(path);
        var track = broadcast is null ? null : await broadcast.GetTrackAsync(trackName, Closing).ConfigureAwait(false);
        if (track is null)
        {
            Log.RequestRefused(_logger, request, path, MoqErrorCode.NotFound);
            throw new MoqException(MoqErrorCode.NotFound, $"'{path}' has no track '{trackName}'");
        }
        return track;
    }

    private async Task ServeSubscribeAsync(MoqTransportStream stream)
    {
        var input = stream.Input!;
        var output = stream.Output!;
        var subscribe = await PipeMessages.ReadRequiredAsync<Subscribe>(input, Version, _options.MaxMessageSize, Closing).ConfigureAwait(false);
        if (Interlocked.Increment(ref _servedSubscriptions) > _options.MaxSubscriptions)
        {
            Interlocked.Decrement(ref _servedSubscriptions);
            throw new MoqException(MoqErrorCode.BoundsExceeded, $"more than {_options.MaxSubscriptions} subscriptions");
        }
        try
        {
            var track = await ResolveTrackAsync("SUBSCRIBE", subscribe.Broadcast, subscribe.Track).ConfigureAwait(false);
            using var subscription = track.Subscribe(subscribe.StartGroup, subscribe.EndGroup, _options.MaxGroupsInFlight, batched: true);
            _options.Metrics?.SubscriptionStarted();
            using var counted = new SubscriptionCount(_options.Metrics);
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Closing);
            var delivery = new GroupDelivery(this, subscribe, subscription, cancel.Token);
            if (Version.HasTrackStream())
            {
                SubscribeResponse.Started(subscription.StartSequence).Write(output, Version);
            }
            else
            {
                new SubscribeResponse(SubscribeResponseKind.Ok, 0, Ok: new SubscribeUpdate(subscribe.Priority, track.Info.Ordered, 0, subscribe.StartGroup, subscribe.EndGroup)).Write(output, Version);
            }
            await PipeMessages.FlushAsync(output, Closing).ConfigureAwait(false);

            var updates = ReadUpdatesAsync(input, delivery, cancel);
            try
            {
                while (await subscription.NextGroupAsync(cancel.Token).ConfigureAwait(false) is { } group)
                {
                    delivery.Start(group);
                }
                await delivery.DrainAsync().ConfigureAwait(false);
                if (Version.HasTrackStream())
                {
                    SubscribeResponse.Ended(track.EndSequence).Write(output, Version);
                    await PipeMessages.FlushAsync(output, Closing).ConfigureAwait(false);
                }
                await output.CompleteAsync().ConfigureAwait(false);
                await updates.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (updates.IsCompleted && !Closing.IsCancellationRequested)
            {
                // The subscriber closed its side: unsubscribe.
                delivery.CancelAll();
                await stream.CloseAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _servedSubscriptions);
        }
    }

    /// <summary>Holds one place in the active-subscriptions gauge until disposed.</summary>
    private readonly struct SubscriptionCount(Diagnostics.MoqMetrics? metrics) : IDisposable
    {
        public void Dispose() => metrics?.SubscriptionEnded();
    }

    private async Task ReadUpdatesAsync(PipeReader input, GroupDelivery delivery, CancellationTokenSource cancel)
    {
        try
        {
            while (await PipeMessages.ReadAsync<SubscribeUpdate>(input, Version, _options.MaxMessageSize, cancel.Token).ConfigureAwait(false) is { } update)
            {
                delivery.Update(update);
            }
        }
        catch (MoqException) when (!Closing.IsCancellationRequested)
        {
            // A reset of the subscriber's side also means unsubscribe.
        }
        finally
        {
            await cancel.CancelAsync().ConfigureAwait(false);
        }
    }

    private static async Task WatchForEndAsync(PipeReader input, CancellationTokenSource cancel)
    {
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(cancel.Token).ConfigureAwait(false);
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is MoqException or OperationCanceledException or IOException)
        {
            // Reset or session end: either way the peer is done.
        }
        await cancel.CancelAsync().ConfigureAwait(false);
    }

    private async Task ServeFetchAsync(MoqTransportStream stream)
    {
        var fetch = await PipeMessages.ReadRequiredAsync<FetchRequest>(stream.Input!, Version, _options.MaxMessageSize, Closing).ConfigureAwait(false);
        var track = await ResolveTrackAsync("FETCH", fetch.Broadcast, fetch.Track).ConfigureAwait(false);
        using var reader = track.TryOpenGroup(fetch.Group)
            ?? throw new MoqException(MoqErrorCode.NotFound, $"group {fetch.Group} of '{fetch.Track}' is not cached");
        stream.SendPriority = GroupSendPriority(fetch.Priority, ordered: true, fetch.Group);
        var sent = false;
        try
        {
            await WriteFramesAsync(stream, reader, Closing).ConfigureAwait(false);
            await stream.CloseAsync().ConfigureAwait(false);
            await stream.WhenSendCompletedAsync().ConfigureAwait(false);
            sent = true;
        }
        finally
        {
            if (!sent)
            {
                // The frames were queued by reference: the stream lets go of them before the group's storage may.
                stream.Reset((ulong)MoqErrorCode.Cancel);
            }
        }
    }

    /// <summary>
    /// Copies a group's frames onto a stream until the group ends, flushing once per batch of ready frames. The last
    /// batch is left for the caller's completion to flush, so a finished group goes out with its end of stream in one
    /// piece rather than as data followed by an empty FIN.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteFramesAsync(MoqTransportStream stream, GroupReader reader, CancellationToken cancellationToken)
    {
        var output = stream.Output!;
        long previous = 0;
        while (true)
        {
            long frames = 0, bytes = 0;
            bool ended;
            while (reader.TryRead(out var frame, out ended))
            {
                // By reference: the reader keeps the payload alive until the stream has sent it.
                FrameCodec.WriteHeader(output, Version, frame.Timestamp - previous, frame.Payload.Length);
                stream.WriteRetained(frame.Payload);
                previous = frame.Timestamp;
                frames++;
                bytes += frame.Payload.Length;
            }
            if (frames > 0)
            {
                _options.Metrics?.FramesSent(frames, bytes);
            }
            if (ended)
            {
                return;
            }
            if (frames > 0)
            {
                await PipeMessages.FlushAsync(output, cancellationToken).ConfigureAwait(false);
            }
            if (!await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>
    /// The groups of one served subscription that are on their way to the peer, each on its own stream. Bounded:
    /// past <see cref="Session.MoqSessionOptions.MaxGroupsInFlight"/>, or once older than the latency window, the
    /// oldest group is reset so a slow peer loses whole old groups and never holds up the publisher.
    /// </summary>
    private sealed class GroupDelivery(LiteSession session, Subscribe subscribe, TrackSubscription subscription, CancellationToken ended)
    {
        private readonly object _gate = new();
        private readonly List<InFlight> _inFlight = [];
        // Finished entries kept for the next groups: a relay starts one per group per subscriber.
        private readonly Stack<InFlight> _spare = new();
        private byte _priority = subscribe.Priority;
        private bool _ordered = subscribe.Ordered;
        private ulong _maxLatencyMs = subscribe.MaxLatencyMs;
        private TaskCompletionSource? _drained;
        private ExceptionDispatchInfo? _fault;

        public void Start(GroupReader reader)
        {
            InFlight entry;
            List<InFlight>? dropped;
            lock (_gate)
            {
                entry = _spare.TryPop(out var spare) ? spare : new InFlight();
                entry.Reader = reader;
                _inFlight.Add(entry);
                dropped = ExpireLocked(reader.Group);
            }
            Drop(dropped);
            // A reused entry's previous delivery has almost always finished by now; observing it returns its pooled
            // state machine for this one. One still finishing is left to the collector.
            if (entry.Sending.IsCompleted)
            {
                entry.Sending.GetAwaiter().GetResult();
            }
#pragma warning disable CA2012 // Stored to be consumed exactly once, above, when the entry is next reused.
            entry.Sending = SendAsync(entry);
#pragma warning restore CA2012
        }

        public void Update(SubscribeUpdate update)
        {
            lock (_gate)
            {
                _priority = update.Priority;
                _ordered = update.Ordered;
                _maxLatencyMs = update.MaxLatencyMs;
                foreach (var entry in _inFlight)
                {
                    if (entry.Stream is { } stream)
                    {
                        stream.SendPriority = GroupSendPriority(_priority, _ordered, entry.Reader!.Sequence);
                    }
                }
            }
        }

        /// <summary>Completes once every group started has been sent or dropped; fails if a delivery failed unexpectedly.</summary>
        public async Task DrainAsync()
        {
            Task drained;
            lock (_gate)
            {
                drained = _inFlight.Count == 0 ? Task.CompletedTask
                    : (_drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
            await drained.ConfigureAwait(false);
            _fault?.Throw();
        }

        public void CancelAll()
        {
            List<InFlight> dropped = [];
            lock (_gate)
            {
                foreach (var entry in _inFlight)
                {
                    if (!entry.Dropped)
                    {
                        MarkDroppedLocked(entry);
                        dropped.Add(entry);
                    }
                }
            }
            Drop(dropped);
        }

        /// <summary>Marks the groups to drop; the caller acts on them once the lock is released.</summary>
        private List<InFlight>? ExpireLocked(MoqGroup newest)
        {
            var window = _maxLatencyMs > 0 ? (long)_maxLatencyMs : (long)subscription.Track.Info.LatencyMax.TotalMilliseconds;
            var active = _inFlight.Count;
            List<InFlight>? dropped = null;
            foreach (var entry in _inFlight)
            {
                if (entry.Dropped)
                {
                    active--;
                    continue;
                }
                // Aged by its last change: a group that is finished and only waiting to leave is as old as its end.
                var group = entry.Reader!.Group;
                var stale = newest.CreatedTimestamp - group.UpdatedTimestamp > window;
                if ((active > session._options.MaxGroupsInFlight || stale) && !ReferenceEquals(group, newest))
                {
                    MarkDroppedLocked(entry);
                    (dropped ??= []).Add(entry);
                    active--;
                }
            }
            return dropped;
        }

        /// <summary>Marks a group dropped and holds its entry until <see cref="Drop"/> has acted on it.</summary>
        private static void MarkDroppedLocked(InFlight entry)
        {
            entry.Dropped = true;
            entry.Holds++;
        }

        /// <summary>Stops dropped groups: a wait for frames ends, and a stream already opened is reset.</summary>
        private void Drop(List<InFlight>? dropped)
        {
            if (dropped is null)
            {
                return;
            }
            foreach (var entry in dropped)
            {
                entry.Reader!.Interrupt();
                MoqTransportStream? stream;
                lock (_gate)
                {
                    stream = entry.Stream;
                }
                stream?.Reset((ulong)MoqErrorCode.Dropped);
                bool recycle;
                lock (_gate)
                {
                    recycle = --entry.Holds == 0 && entry.Finished;
                }
                if (recycle)
                {
                    Recycle(entry);
                }
            }
        }

        /// <summary>
        /// Lets go of a finished entry's reader and stream and keeps the entry for a later group. Only once its delivery
        /// finished and no drop holds it: a late interrupt or reset must not reach the reader's or stream's next use.
        /// </summary>
        private void Recycle(InFlight entry)
        {
            var reader = entry.Reader!;
            reader.Dispose();
            subscription.Recycle(reader);
            entry.Stream?.Release();
            lock (_gate)
            {
                entry.Reader = null;
                entry.Stream = null;
                entry.Dropped = entry.Finished = false;
                if (_spare.Count < session._options.MaxGroupsInFlight)
                {
                    _spare.Push(entry);
                }
            }
        }

        /// <summary>A delivery is over: the entry leaves the in-flight list and, unless a drop still holds it, is recycled.</summary>
        private void Finish(InFlight entry)
        {
            bool recycle;
            TaskCompletionSource? drained = null;
            lock (_gate)
            {
                _inFlight.Remove(entry);
                entry.Finished = true;
                recycle = entry.Holds == 0;
                if (_inFlight.Count == 0)
                {
                    drained = _drained;
                    _drained = null;
                }
            }
            if (recycle)
            {
                Recycle(entry);
            }
            drained?.TrySetResult();
        }

        // Pooled: a relay runs one per group per subscriber, and under load most wait for their stream to leave.
        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
        private async ValueTask SendAsync(InFlight entry)
        {
            var reader = entry.Reader!;
            MoqTransportStream? stream = null;
            var sent = false;
            try
            {
                stream = await session._connection.OpenUnidirectionalStreamAsync(ended).ConfigureAwait(false);
                bool dropped;
                lock (_gate)
                {
                    entry.Stream = stream;
                    dropped = entry.Dropped;
                    stream.SendPriority = GroupSendPriority(_priority, _ordered, reader.Sequence);
                }
                if (dropped)
                {
                    throw new OperationCanceledException();
                }
                var output = stream.Output!;
                VarInt.Write(output, (ulong)LiteUniType.Group);
                LiteCodec.Write(output, new GroupHeader(subscribe.Id, reader.Sequence), session.Version);
                await session.WriteFramesAsync(stream, reader, ended).ConfigureAwait(false);
                await output.CompleteAsync().ConfigureAwait(false);
                // In flight until it has left, so a peer that reads slowly holds groups here, where they can be dropped.
                await stream.WhenSendCompletedAsync().ConfigureAwait(false);
                sent = true;
                if (entry.Dropped)
                {
                    // Reset while it waited to leave.
                    session._options.Metrics?.GroupDropped();
                }
                else
                {
                    session._options.Metrics?.GroupSent();
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException || entry.Dropped)
            {
                stream?.Reset((ulong)MoqErrorCode.Dropped);
                session._options.Metrics?.GroupDropped();
            }
            catch (MoqException ex)
            {
                stream?.Reset((ulong)ex.Code);
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException)
            {
                stream?.Reset((ulong)MoqErrorCode.Transport);
            }
            catch (Exception ex)
            {
                // A bug, not the network: the subscription fails with it once its deliveries are drained.
                _fault ??= ExceptionDispatchInfo.Capture(ex);
            }
            finally
            {
                if (!sent)
                {
                    // Frames were queued by reference: a stream that has not sent them all lets go of them first.
                    stream?.Reset((ulong)MoqErrorCode.Cancel);
                }
                Finish(entry);
            }
        }

        /// <summary>
        /// One group on its way, reused for later groups once finished. <see cref="Reader"/> is set while in flight; all
        /// but it are guarded by the delivery's lock.
        /// </summary>
        private sealed class InFlight
        {
            public GroupReader? Reader { get; set; }

            public bool Dropped { get; set; }

            public bool Finished { get; set; }

            /// <summary>Drops still acting on this entry; it is recycled only at zero.</summary>
            public int Holds { get; set; }

            public MoqTransportStream? Stream { get; set; }

            /// <summary>The entry's latest delivery; it handles its own failures, so observing it never throws.</summary>
            public ValueTask Sending { get; set; }
        }
    }
}
