using System.Buffers;
using System.Runtime.CompilerServices;
using MoqLite.Coding;

namespace MoqLite.Model;

/// <summary>
/// A group: an ordered list of frames written once and read by any number of <see cref="GroupReader"/>s,
/// each at its own pace. Frames are copied into pooled chunks (or, for a group that arrived whole, stay in the
/// received message) that return to the pool once the producer has finished the group, the track's cache has dropped
/// it and every reader has let go, so relaying a frame allocates nothing.
/// </summary>
public sealed class MoqGroup
{
    private const int MinChunkSize = 1024;
    private const int MaxChunkSize = 64 * 1024;
    private readonly object _gate = new();
    // Open readers, each knowing its slot, so closing one is O(1) even with thousands of subscribers. Slot 0 is a
    // field (a subscriber's group has one reader); the rest live in a pooled array.
    private GroupReader? _firstReader;
    private GroupReader[] _moreReaders = [];
    private int _readerCount;
    // Storage: the first chunk and the first frame's place are fields, since most groups on the wire (audio, a
    // keyframe, a relay's single-frame groups) have one of each; more spill into pooled arrays.
    private byte[]? _firstChunk;
    // Set when the first chunk is a received message the group adopted rather than a pooled array of its own.
    private SharedBuffer? _adopted;
    private byte[][] _moreChunks = [];
    private int _chunkCount;
    private int _chunkUsed;
    private FrameRef _firstFrame;
    private FrameRef[] _moreFrames = [];
    private int _frameCount;
    private int _references;
    private long _bytes;
    private TaskCompletionSource? _unread;
    private long _updatedTimestamp;
    // 1 once the group has something to read (a frame or its end) and its track's subscribers were told.
    private int _readable;

    internal MoqGroup(ulong sequence, MoqTrack? track)
    {
        Sequence = sequence;
        Track = track;
        // The producer's reference until it finishes the group, and the track cache's until it evicts it: a group
        // evicted while still arriving (an old one, out of order) keeps its storage for its producer and readers.
        _references = track is null ? 1 : 2;
        CreatedTimestamp = track?.NowMilliseconds() ?? Environment.TickCount64;
        _updatedTimestamp = CreatedTimestamp;
    }

    /// <summary>The group sequence number within its track.</summary>
    public ulong Sequence { get; }

    /// <summary>The track this group belongs to, if any.</summary>
    public MoqTrack? Track { get; }

    /// <summary>True once the producer finished the group (normally or not).</summary>
    public bool IsCompleted { get; private set; }

    /// <summary>The error the group was aborted with, if it was.</summary>
    public MoqErrorCode? AbortCode { get; private set; }

    /// <summary>Frames written so far.</summary>
    public int FrameCount => Volatile.Read(ref _frameCount);

    /// <summary>Payload bytes written so far.</summary>
    public long ByteCount => Interlocked.Read(ref _bytes);

    /// <summary>True once the group holds a frame or has finished: there is something for a subscriber to read.</summary>
    internal bool IsReadable => Volatile.Read(ref _readable) == 1;

    /// <summary>When the group was created, in milliseconds of its track's clock.</summary>
    internal long CreatedTimestamp { get; }

    /// <summary>
    /// When the group last changed (created, a frame written, finished), on the same clock. A group is stale by this,
    /// not by its start: a long group that just ended is as fresh as its last frame.
    /// </summary>
    internal long UpdatedTimestamp => Volatile.Read(ref _updatedTimestamp);

    /// <summary>Appends a frame.</summary>
    public void WriteFrame(ReadOnlySpan<byte> payload, long timestamp)
    {
        lock (_gate)
        {
            var destination = Reserve(payload.Length, timestamp);
            payload.CopyTo(destination.Span);
        }
        Wake();
    }

    /// <summary>Appends a frame from a possibly multi-segment buffer.</summary>
    public void WriteFrame(in ReadOnlySequence<byte> payload, long timestamp)
    {
        lock (_gate)
        {
            var destination = Reserve(checked((int)payload.Length), timestamp);
            payload.CopyTo(destination.Span);
        }
        Wake();
    }

    /// <summary>
    /// Appends a frame that stays where it arrived, at <paramref name="offset"/> in <paramref name="storage"/> (a received
    /// message), on which the group holds a reference until its storage is released: no copy. Only a group whose
    /// frames all come from that one buffer adopts them.
    /// </summary>
    internal void AdoptFrame(SharedBuffer storage, int offset, int length, long timestamp)
    {
        lock (_gate)
        {
            ThrowIfCompletedLocked();
            if (_chunkCount == 0)
            {
                storage.Retain();
                _adopted = storage;
                _firstChunk = storage.Array;
                _chunkCount = 1;
                // Full as far as Reserve is concerned: a frame written later gets a chunk of its own.
                _chunkUsed = storage.Array.Length;
            }
            else if (!ReferenceEquals(_adopted, storage) || _chunkCount != 1)
            {
                throw new InvalidOperationException($"Group {Sequence} adopts frames from one received buffer only.");
            }
            AppendFrameLocked(new FrameRef(0, offset, length, timestamp));
        }
        Wake();
    }

    /// <summary>Finishes the group: readers see the end after the last frame.</summary>
    public void Complete() => Finish(null);

    /// <summary>Abandons the group: readers get a <see cref="MoqException"/> with <paramref name="code"/>.</summary>
    public void Abort(MoqErrorCode code) => Finish(code);

    /// <summary>Opens a reader positioned at the first frame. Dispose it when done.</summary>
    public GroupReader OpenReader() => OpenReader(null);

    /// <summary>Opens a reader, reusing <paramref name="spare"/> (a closed reader nobody holds any more) when given.</summary>
    internal GroupReader OpenReader(GroupReader? spare)
    {
        var reader = spare ?? new GroupReader(this);
        spare?.Reopen(this);
        lock (_gate)
        {
            if (_references == 0)
            {
                throw new ObjectDisposedException(nameof(MoqGroup), "The group's storage was released.");
            }
            _references++;
            if (_readerCount > _moreReaders.Length)
            {
                GrowReadersLocked();
            }
            SetReaderLocked(_readerCount++, reader);
        }
        return reader;
    }

    /// <summary>
    /// Takes frame <paramref name="index"/> if written. With a <paramref name="waiter"/>, an unsuccessful read that
    /// is not at the end prepares the waiter's signal under this lock, so a frame written right after is never missed.
    /// </summary>
    internal bool TryRead(ref int index, out MoqFrame frame, out bool ended, GroupReader? waiter = null)
    {
        lock (_gate)
        {
            if (waiter is { InterruptedLocked: true })
            {
                throw new OperationCanceledException($"group {Sequence} was dropped");
            }
            if (index < _frameCount)
            {
                var entry = index == 0 ? _firstFrame : _moreFrames[index - 1];
                index++;
                frame = new MoqFrame(new ReadOnlyMemory<byte>(ChunkLocked(entry.Chunk), entry.Offset, entry.Length), entry.Timestamp);
                ended = false;
                return true;
            }
            frame = default;
            ended = IsCompleted;
            if (ended && AbortCode is { } code)
            {
                throw new MoqException(code, $"group {Sequence} was aborted ({code})");
            }
            if (!ended)
            {
                waiter?.PrepareWaitLocked();
            }
            return false;
        }
    }

    internal void Interrupt(GroupReader reader)
    {
        lock (_gate)
        {
            reader.InterruptedLocked = true;
            reader.WakeLocked();
        }
    }

    /// <summary>
    /// Completes once no reader holds this group: every subscription it reached has sent it on or let it go. A
    /// producer that prefers pacing itself to its slowest subscriber over having groups dropped can wait on an
    /// earlier group before writing the next.
    /// </summary>
    public Task WaitForReadersAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_readerCount == 0)
            {
                return Task.CompletedTask;
            }
            _unread ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _unread.Task.WaitAsync(cancellationToken);
        }
    }

    internal void CloseReader(GroupReader reader)
    {
        TaskCompletionSource? unread = null;
        GroupReader[]? emptied = null;
        lock (_gate)
        {
            var slot = reader.SlotLocked;
            if (slot < 0)
            {
                return;
            }
            var last = ReaderLocked(--_readerCount);
            SetReaderLocked(slot, last);
            SetReaderLocked(_readerCount, null);
            reader.SlotLocked = -1;
            if (_readerCount == 0)
            {
                (unread, _unread) = (_unread, null);
                if (_moreReaders.Length > 0)
                {
                    (emptied, _moreReaders) = (_moreReaders, []);
                }
            }
        }
        if (emptied is not null)
        {
            ArrayPool<GroupReader>.Shared.Return(emptied);
        }
        unread?.TrySetResult();
        Release();
    }

    /// <summary>Drops a reference: the producer's when it finishes, the cache's on eviction, a reader's on close.</summary>
    internal void Release()
    {
        byte[]? first;
        SharedBuffer? adopted;
        byte[][] more;
        FrameRef[] frames;
        int chunkCount;
        lock (_gate)
        {
            if (--_references != 0)
            {
                return;
            }
            (first, adopted, more, frames, chunkCount) = (_firstChunk, _adopted, _moreChunks, _moreFrames, _chunkCount);
            (_firstChunk, _adopted, _moreChunks, _moreFrames) = (null, null, [], []);
            _chunkCount = 0;
            _frameCount = 0;
        }
        if (adopted is not null)
        {
            adopted.Release();
        }
        else if (first is not null)
        {
            BufferPool.Shared.Return(first);
        }
        for (var i = 0; i < chunkCount - 1; i++)
        {
            BufferPool.Shared.Return(more[i]);
        }
        if (frames.Length > 0)
        {
            ArrayPool<FrameRef>.Shared.Return(frames);
        }
        if (more.Length > 0)
        {
            ArrayPool<byte[]>.Shared.Return(more, clearArray: true);
        }
    }

    private void ThrowIfCompletedLocked()
    {
        if (IsCompleted)
        {
            throw new InvalidOperationException($"Group {Sequence} is already finished.");
        }
    }

    private Memory<byte> Reserve(int length, long timestamp)
    {
        ThrowIfCompletedLocked();
        if (_chunkCount == 0 || _chunkUsed + length > ChunkLocked(_chunkCount - 1).Length)
        {
            // Start at the first frame's size and double: a one-frame group (audio, a keyframe) then holds one buffer
            // of about its size, while a long group still ends up with few large chunks.
            var previous = _chunkCount == 0 ? 0 : ChunkLocked(_chunkCount - 1).Length;
            var chunk = BufferPool.Shared.Rent(Math.Max(Math.Clamp(previous * 2, MinChunkSize, MaxChunkSize), length));
            if (_chunkCount == 0)
            {
                _firstChunk = chunk;
            }
            else
            {
                Grow(ref _moreChunks, _chunkCount - 1);
                _moreChunks[_chunkCount - 1] = chunk;
            }
            _chunkCount++;
            _chunkUsed = 0;
        }
        var entry = new FrameRef(_chunkCount - 1, _chunkUsed, length, timestamp);
        AppendFrameLocked(entry);
        var memory = new Memory<byte>(ChunkLocked(entry.Chunk), _chunkUsed, length);
        _chunkUsed += length;
        return memory;
    }

    private void AppendFrameLocked(FrameRef entry)
    {
        if (_frameCount == 0)
        {
            _firstFrame = entry;
        }
        else
        {
            Grow(ref _moreFrames, _frameCount - 1);
            _moreFrames[_frameCount - 1] = entry;
        }
        Volatile.Write(ref _frameCount, _frameCount + 1);
        Interlocked.Add(ref _bytes, entry.Length);
        Touch();
    }

    private void Touch() => Volatile.Write(ref _updatedTimestamp, Track?.NowMilliseconds() ?? Environment.TickCount64);

    private byte[] ChunkLocked(int index) => index == 0 ? _firstChunk! : _moreChunks[index - 1];

    private static void Grow<T>(ref T[] array, int used)
    {
        if (used < array.Length)
        {
            return;
        }
        var larger = ArrayPool<T>.Shared.Rent(Math.Max(8, array.Length * 2));
        array.AsSpan().CopyTo(larger);
        if (array.Length > 0)
        {
            ArrayPool<T>.Shared.Return(array, clearArray: true);
        }
        array = larger;
    }

    private void Finish(MoqErrorCode? code)
    {
        lock (_gate)
        {
            if (IsCompleted)
            {
                return;
            }
            AbortCode = code;
            IsCompleted = true;
            Touch();
        }
        Wake();
        Release();
    }

    private void Wake()
    {
        lock (_gate)
        {
            for (var i = 0; i < _readerCount; i++)
            {
                ReaderLocked(i).WakeLocked();
            }
        }
        // Subscribers are woken by a group's first frame rather than its creation: woken earlier, most would find
        // it empty and wait again, each on an async state machine of its own, as the producer fills it. Read first:
        // only the first frame needs the exchange, and later ones then leave the cache line readers share alone.
        if (Volatile.Read(ref _readable) == 0 && Interlocked.Exchange(ref _readable, 1) == 0)
        {
            Track?.WakeSubscriptions();
        }
    }

    private GroupReader ReaderLocked(int slot) => slot == 0 ? _firstReader! : _moreReaders[slot - 1];

    private void SetReaderLocked(int slot, GroupReader? reader)
    {
        if (slot == 0)
        {
            _firstReader = reader;
        }
        else
        {
            _moreReaders[slot - 1] = reader!;
        }
        if (reader is not null)
        {
            reader.SlotLocked = slot;
        }
    }

    private void GrowReadersLocked()
    {
        var larger = ArrayPool<GroupReader>.Shared.Rent(Math.Max(4, 2 * _moreReaders.Length));
        _moreReaders.AsSpan().CopyTo(larger);
        if (_moreReaders.Length > 0)
        {
            ArrayPool<GroupReader>.Shared.Return(_moreReaders, clearArray: true);
        }
        _moreReaders = larger;
    }

    private readonly record struct FrameRef(int Chunk, int Offset, int Length, long Timestamp);
}

/// <summary>
/// Reads one group's frames in order, independently of other readers. Payloads stay valid until
/// <see cref="Dispose"/>.
/// </summary>
public sealed class GroupReader : IDisposable
{
    private MoqGroup _group;
    private int _index;

    internal GroupReader(MoqGroup group) => _group = group;

    /// <summary>Points a closed reader that nobody holds any more at the start of <paramref name="group"/>.</summary>
    internal void Reopen(MoqGroup group)
    {
        _group = group;
        _index = 0;
        InterruptedLocked = false;
    }

    /// <summary>The group's sequence number.</summary>
    public ulong Sequence => _group.Sequence;

    /// <summary>The group being read.</summary>
    public MoqGroup Group => _group;

    // Created by the first wait, under the group's lock: most readers of a finished group never wait.
    private AsyncSignal? _signal;

    /// <summary>Set (under the group's lock) when a delivery drops this group.</summary>
    internal bool InterruptedLocked { get; set; }

    /// <summary>Where the group keeps this reader; -1 once closed. Guarded by the group's lock.</summary>
    internal int SlotLocked { get; set; } = -1;

    internal void PrepareWaitLocked() => _signal ??= new AsyncSignal();

    internal void WakeLocked() => _signal?.Set();

    /// <summary>Takes the next frame if one is available.</summary>
    /// <exception cref="MoqException">The producer aborted the group.</exception>
    public bool TryRead(out MoqFrame frame) => _group.TryRead(ref _index, out frame, out _);

    /// <summary>Takes the next frame if one is available; otherwise says whether the group has ended.</summary>
    internal bool TryRead(out MoqFrame frame, out bool ended) => _group.TryRead(ref _index, out frame, out ended);

    /// <summary>
    /// Makes a pending or later <see cref="WaitToReadAsync"/> throw <see cref="OperationCanceledException"/>: how a
    /// delivery drops one group without a cancellation source per group.
    /// </summary>
    internal void Interrupt() => _group.Interrupt(this);

    /// <summary>Waits until a frame is available (true) or the group ended (false).</summary>
    /// <exception cref="MoqException">The producer aborted the group.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var probe = _index;
            if (_group.TryRead(ref probe, out _, out var ended, waiter: this))
            {
                return true;
            }
            if (ended)
            {
                return false;
            }
            await _signal!.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads the next frame, or null at the end of the group.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<MoqFrame?> ReadFrameAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (TryRead(out var frame))
            {
                return frame;
            }
            if (!await WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }
        }
    }

    /// <summary>Releases this reader's hold on the group's storage.</summary>
    public void Dispose() => _group.CloseReader(this);
}
