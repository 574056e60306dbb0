using System.Runtime.CompilerServices;

namespace MoqLite.Model;

/// <summary>
/// A track: a sequence of groups. The producer appends groups; each <see cref="TrackSubscription"/> receives
/// them independently. Recent groups are cached (the latest always, older ones for <see cref="TrackInfo.LatencyMax"/>)
/// so that a late subscriber starts at the latest group and FETCH can serve a recent one.
/// </summary>
public sealed class MoqTrack
{
    private readonly object _gate = new();
    private readonly List<MoqGroup> _cache = [];
    private readonly List<TrackSubscription> _subscriptions = [];
    // The relay's own subscriptions, woken together by one thread-pool item per new group (see WakeSubscriptions).
    // Replaced, never changed, so the item reads it without the lock.
    private TrackSubscription[] _batched = [];
    private BatchedWake? _batchedWake;
    private bool _batchedWakeQueued;
    private ulong _nextSequence;
    private readonly int _maxCachedGroups;
    private readonly TimeProvider _time;

    /// <summary>Creates a track; normally through <see cref="MoqBroadcast.CreateTrack"/>.</summary>
    /// <param name="name">The track name.</param>
    /// <param name="info">The publisher's properties.</param>
    /// <param name="maxCachedGroups">The most groups kept for late joiners and FETCH, whatever their age.</param>
    /// <param name="timeProvider">The clock that ages groups against <see cref="TrackInfo.LatencyMax"/>; the system clock when null.</param>
    public MoqTrack(string name, TrackInfo info, int maxCachedGroups = 64, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (info.Timescale == 0)
        {
            throw new ArgumentException("The timescale must be non-zero.", nameof(info));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCachedGroups, 1);
        Name = name;
        Info = info;
        _maxCachedGroups = maxCachedGroups;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The track name.</summary>
    public string Name { get; }

    /// <summary>The publisher's properties.</summary>
    public TrackInfo Info { get; }

    /// <summary>True once the track ended.</summary>
    public bool IsCompleted { get; private set; }

    /// <summary>The error the track ended with, if any.</summary>
    public MoqErrorCode? AbortCode { get; private set; }

    /// <summary>The exclusive end: one past the highest group sequence produced (0 when none was).</summary>
    public ulong EndSequence => _nextSequence;

    /// <summary>The newest cached group's sequence, if any.</summary>
    public ulong? LatestSequence
    {
        get
        {
            lock (_gate)
            {
                return _cache.Count == 0 ? null : _cache[^1].Sequence;
            }
        }
    }

    /// <summary>Active subscriptions.</summary>
    public int SubscriptionCount
    {
        get
        {
            lock (_gate)
            {
                return _subscriptions.Count;
            }
        }
    }

    /// <summary>Raised (outside any lock) when the last subscription is disposed.</summary>
    internal event Action<MoqTrack>? Idle;

    /// <summary>Raised (outside any lock) when the first subscription arrives, or the first after an idle spell.</summary>
    internal event Action<MoqTrack>? Active;

    /// <summary>Starts the next group in sequence.</summary>
    public MoqGroup AppendGroup()
    {
        lock (_gate)
        {
            return CreateGroupLocked(_nextSequence);
        }
    }

    /// <summary>Starts a group with an explicit sequence (a relay forwarding groups that arrive out of order).</summary>
    public MoqGroup CreateGroup(ulong sequence)
    {
        lock (_gate)
        {
            return CreateGroupLocked(sequence);
        }
    }

    /// <summary>Ends the track normally; subscribers see the end after their pending groups.</summary>
    public void Complete() => Finish(null);

    /// <summary>Ends the track with an error.</summary>
    public void Abort(MoqErrorCode code) => Finish(code);

    /// <summary>
    /// Subscribes. With no <paramref name="startGroup"/> delivery begins at the latest cached group; otherwise at
    /// the cached groups from <paramref name="startGroup"/> on. <paramref name="maxBacklog"/> bounds the groups queued
    /// for a slow subscriber: beyond it the oldest whole groups are dropped.
    /// </summary>
    public TrackSubscription Subscribe(ulong? startGroup = null, ulong? endGroup = null, int maxBacklog = 16) =>
        Subscribe(startGroup, endGroup, maxBacklog, batched: false);

    /// <summary>
    /// Subscribes; a <paramref name="batched"/> subscription is woken with the others of its kind, one after another
    /// on one thread-pool item, and resumes its waiter there: only for code that never blocks, like a relay's delivery.
    /// </summary>
    internal TrackSubscription Subscribe(ulong? startGroup, ulong? endGroup, int maxBacklog, bool batched)
    {
        var subscription = new TrackSubscription(this, endGroup, maxBacklog) { IsBatched = batched };
        var first = false;
        lock (_gate)
        {
            foreach (var group in _cache)
            {
                if (startGroup is { } start ? group.Sequence >= start : ReferenceEquals(group, _cache[^1]))
                {
                    subscription.Enqueue(group);
                }
            }
            subscription.StartSequence = startGroup ?? (_cache.Count > 0 ? _cache[^1].Sequence : _nextSequence);
            if (IsCompleted)
            {
                subscription.Finish(AbortCode);
            }
            else
            {
                first = _subscriptions.Count == 0;
                _subscriptions.Add(subscription);
                if (batched)
                {
                    _batched = [.. _batched, subscription];
                }
            }
        }
        if (first)
        {
            Active?.Invoke(this);
        }
        return subscription;
    }

    /// <summary>Opens a reader on a cached group, or returns null when it is not (or no longer) cached.</summary>
    public GroupReader? TryOpenGroup(ulong sequence)
    {
        lock (_gate)
        {
            foreach (var group in _cache)
            {
                if (group.Sequence == sequence)
                {
                    return group.OpenReader();
                }
            }
        }
        return null;
    }

    /// <summary>Wakes every subscription: a group queued to them while empty became readable.</summary>
    /// <remarks>
    /// Each application subscription resumes on the thread pool on its own. A relay's subscriptions instead are woken
    /// by one thread-pool item that resumes each delivery in turn, as a broadcast loop would: a work item per
    /// subscriber per group cost more than the delivery it started.
    /// </remarks>
    internal void WakeSubscriptions()
    {
        var queue = false;
        lock (_gate)
        {
            foreach (var subscription in _subscriptions)
            {
                if (!subscription.IsBatched)
                {
                    subscription.Wake();
                }
            }
            if (_batched.Length > 0 && !_batchedWakeQueued)
            {
                _batchedWakeQueued = queue = true;
            }
        }
        if (queue)
        {
            ThreadPool.UnsafeQueueUserWorkItem(_batchedWake ??= new BatchedWake(this), preferLocal: false);
        }
    }

    /// <summary>Wakes the batched subscriptions one after another, outside any lock.</summary>
    private sealed class BatchedWake(MoqTrack track) : IThreadPoolWorkItem
    {
        public void Execute()
        {
            TrackSubscription[] batched;
            lock (track._gate)
            {
                // Cleared first: a group made readable while this runs queues another round rather than being missed.
                track._batchedWakeQueued = false;
                batched = track._batched;
            }
            foreach (var subscription in batched)
            {
                subscription.WakeInline();
            }
        }
    }

    internal void Unsubscribe(TrackSubscription subscription)
    {
        bool idle;
        lock (_gate)
        {
            idle = _subscriptions.Remove(subscription) && _subscriptions.Count == 0;
            if (subscription.IsBatched)
            {
                _batched = [.. _batched.Where(other => other != subscription)];
            }
        }
        if (idle)
        {
            Idle?.Invoke(this);
        }
    }

    private MoqGroup CreateGroupLocked(ulong sequence)
    {
        if (IsCompleted)
        {
            throw new InvalidOperationException($"Track '{Name}' has ended.");
        }
        var group = new MoqGroup(sequence, this);
        if (sequence >= _nextSequence)
        {
            _nextSequence = sequence + 1;
        }
        InsertIntoCache(group);
        foreach (var subscription in _subscriptions)
        {
            subscription.Enqueue(group);
        }
        return group;
    }

    /// <summary>Milliseconds on this track's clock, the unit groups are aged in.</summary>
    internal long NowMilliseconds() => (long)(_time.GetTimestamp() * 1000.0 / _time.TimestampFrequency);

    private void InsertIntoCache(MoqGroup group)
    {
        var index = _cache.Count;
        while (index > 0 && _cache[index - 1].Sequence > group.Sequence)
        {
            index--;
        }
        _cache.Insert(index, group);
        // Evict groups older than the latest by more than the publisher's max latency, and past the count cap.
        var horizon = NowMilliseconds() - (long)Info.LatencyMax.TotalMilliseconds;
        while (_cache.Count > 1 && (_cache.Count > _maxCachedGroups || (_cache[0].CreatedTimestamp < horizon && _cache[0].IsCompleted)))
        {
            _cache[0].Release();
            _cache.RemoveAt(0);
        }
    }

    private void Finish(MoqErrorCode? code)
    {
        TrackSubscription[] subscriptions;
        lock (_gate)
        {
            if (IsCompleted)
            {
                return;
            }
            IsCompleted = true;
            AbortCode = code;
            subscriptions = [.. _subscriptions];
            _subscriptions.Clear();
            _batched = [];
            foreach (var group in _cache)
            {
                if (!group.IsCompleted)
                {
                    group.Abort(code ?? MoqErrorCode.Cancel);
                }
            }
        }
        foreach (var subscription in subscriptions)
        {
            subscription.Finish(code);
        }
    }
}

/// <summary>
/// One subscriber's view of a track: groups in arrival order, with a bounded backlog so that a slow
/// subscriber loses whole old groups instead of holding up the publisher or anyone else.
/// </summary>
public sealed class TrackSubscription : IDisposable
{
    private readonly object _gate = new();
    private readonly Queue<GroupReader> _pending = new();
    // Readers whose groups were delivered or dropped, for the next groups: a relay reads every group once per subscriber.
    private readonly Stack<GroupReader> _spareReaders = new();
    private readonly AsyncSignal _signal = new();
    private readonly MoqTrack _track;
    private readonly ulong? _endGroup;
    private readonly int _maxBacklog;
    private bool _finished;
    private MoqErrorCode? _abort;
    private bool _disposed;

    internal TrackSubscription(MoqTrack track, ulong? endGroup, int maxBacklog)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBacklog, 1);
        _track = track;
        _endGroup = endGroup;
        _maxBacklog = maxBacklog;
    }

    /// <summary>The track subscribed to.</summary>
    public MoqTrack Track => _track;

    /// <summary>The first group sequence this subscription delivers.</summary>
    public ulong StartSequence { get; internal set; }

    /// <summary>Groups dropped because this subscriber fell behind.</summary>
    public long DroppedGroups { get; private set; }

    /// <summary>
    /// The next group, or null when the track ended. Dispose the reader when done with it. A group already queued is
    /// returned at once; a call that has to wait is woken when a new group gets its first frame (or ends empty).
    /// </summary>
    /// <exception cref="MoqException">The track was aborted.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<GroupReader?> NextGroupAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            lock (_gate)
            {
                if (_pending.TryDequeue(out var reader))
                {
                    return reader;
                }
                if (_finished)
                {
                    return _abort is { } code ? throw new MoqException(code, $"track '{_track.Name}' ended with {code}") : null;
                }
            }
            await _signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Stops receiving and releases queued groups.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _finished = true;
            while (_pending.TryDequeue(out var reader))
            {
                reader.Dispose();
            }
        }
        _track.Unsubscribe(this);
        _signal.Set();
    }

    internal void Enqueue(MoqGroup group)
    {
        if (_endGroup is { } end && group.Sequence > end)
        {
            return;
        }
        lock (_gate)
        {
            if (_finished)
            {
                return;
            }
            _pending.Enqueue(group.OpenReader(_spareReaders.TryPop(out var spare) ? spare : null));
            while (_pending.Count > _maxBacklog)
            {
                var dropped = _pending.Dequeue();
                dropped.Dispose();
                RecycleLocked(dropped);
                DroppedGroups++;
            }
        }
        // Called under the track's lock, like WakeSubscriptions: an empty group is announced by its first frame then.
        if (group.IsReadable)
        {
            _signal.Set();
        }
    }

    internal void Wake() => _signal.Set();

    /// <summary>Wakes the waiter on this thread (see <see cref="MoqTrack.WakeSubscriptions"/>); the caller holds no lock.</summary>
    internal void WakeInline() => _signal.SetInline();

    /// <summary>Woken with the track's other batched subscriptions rather than on its own.</summary>
    internal bool IsBatched { get; init; }

    /// <summary>Keeps a reader the caller disposed and will never touch again, for a later group.</summary>
    internal void Recycle(GroupReader reader)
    {
        lock (_gate)
        {
            RecycleLocked(reader);
        }
    }

    private void RecycleLocked(GroupReader reader)
    {
        if (_spareReaders.Count < _maxBacklog)
        {
            _spareReaders.Push(reader);
        }
    }

    internal void Finish(MoqErrorCode? code)
    {
        lock (_gate)
        {
            _finished = true;
            _abort = code;
        }
        _signal.Set();
    }
}
