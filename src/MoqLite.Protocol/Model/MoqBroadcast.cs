namespace MoqLite.Model;

/// <summary>Produces tracks of a broadcast on demand (a remote publisher, or an application handler).</summary>
public interface IMoqTrackSource
{
    /// <summary>
    /// Produces track <paramref name="name"/> of <paramref name="broadcast"/>, or returns null when it does not exist.
    /// The broadcast shares the returned track among all subscribers until its last subscriber leaves.
    /// </summary>
    ValueTask<MoqTrack?> CreateTrackAsync(MoqBroadcast broadcast, string name, CancellationToken cancellationToken);
}

/// <summary>
/// A broadcast: a named set of tracks. Tracks are created up front with <see cref="CreateTrack"/>, or on first
/// request by an <see cref="IMoqTrackSource"/>; concurrent requests for the same track share one source call,
/// so a relay opens one upstream subscription however many subscribers ask.
/// </summary>
public sealed class MoqBroadcast
{
    private readonly object _gate = new();
    private readonly Dictionary<string, Task<MoqTrack?>> _tracks = new(StringComparer.Ordinal);
    private readonly IMoqTrackSource? _source;
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Creates a broadcast, optionally backed by an on-demand track source.</summary>
    public MoqBroadcast(IMoqTrackSource? source = null) => _source = source;

    /// <summary>Completes when the broadcast is closed.</summary>
    public Task Closed => _closed.Task;

    /// <summary>True once closed.</summary>
    public bool IsClosed => _closed.Task.IsCompleted;

    /// <summary>Origin ids this broadcast's announcement passed through, nearest publisher first.</summary>
    public IReadOnlyList<ulong> Hops { get; init; } = [];

    /// <summary>The session (or other owner) that brought this broadcast in, used to avoid echoing it back.</summary>
    public object? Owner { get; init; }

    /// <summary>The clock that ages this broadcast's groups against each track's max latency.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Adds a track that exists for the life of the broadcast.</summary>
    public MoqTrack CreateTrack(string name, TrackInfo info)
    {
        var track = new MoqTrack(name, info, timeProvider: TimeProvider);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            if (_tracks.ContainsKey(name))
            {
                throw new InvalidOperationException($"Track '{name}' already exists.");
            }
            _tracks[name] = Task.FromResult<MoqTrack?>(track);
        }
        return track;
    }

    /// <summary>
    /// Finds a track, asking the source to create it on first request. Returns null when it does not exist.
    /// </summary>
    public async ValueTask<MoqTrack?> GetTrackAsync(string name, CancellationToken cancellationToken = default)
    {
        for (var attempt = 0; attempt < 2; attempt++)
        {
            Task<MoqTrack?> pending;
            lock (_gate)
            {
                if (IsClosed)
                {
                    return null;
                }
                if (!_tracks.TryGetValue(name, out pending!))
                {
                    if (_source is null)
                    {
                        return null;
                    }
                    pending = CreateFromSourceAsync(name);
                    _tracks[name] = pending;
                }
            }
            var track = await pending.WaitAsync(cancellationToken).ConfigureAwait(false);
            // A track that just ended (its last subscriber left) is replaced by a fresh request.
            if (track is null || !track.IsCompleted || _source is null)
            {
                return track;
            }
            Forget(name, pending);
        }
        return null;
    }

    /// <summary>Ends every track and withdraws the broadcast from any origin it was published to.</summary>
    public void Close()
    {
        List<Task<MoqTrack?>> tracks;
        lock (_gate)
        {
            if (!_closed.TrySetResult())
            {
                return;
            }
            tracks = [.. _tracks.Values];
            _tracks.Clear();
        }
        foreach (var task in tracks)
        {
            if (task.IsCompletedSuccessfully && task.Result is { } track)
            {
                track.Complete();
            }
        }
    }

    private async Task<MoqTrack?> CreateFromSourceAsync(string name)
    {
        MoqTrack? track;
        try
        {
            track = await _source!.CreateTrackAsync(this, name, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is MoqException or OperationCanceledException)
        {
            lock (_gate)
            {
                _tracks.Remove(name);
            }
            throw;
        }
        if (track is null)
        {
            lock (_gate)
            {
                _tracks.Remove(name);
            }
            return null;
        }
        track.Idle += OnTrackIdle;
        return track;
    }

    private void OnTrackIdle(MoqTrack track)
    {
        // The last subscriber left an on-demand track: end it so its source releases the upstream.
        lock (_gate)
        {
            if (_tracks.TryGetValue(track.Name, out var task) && task.IsCompletedSuccessfully && ReferenceEquals(task.Result, track))
            {
                _tracks.Remove(track.Name);
            }
        }
        track.Complete();
    }

    private void Forget(string name, Task<MoqTrack?> pending)
    {
        lock (_gate)
        {
            if (_tracks.TryGetValue(name, out var current) && current == pending)
            {
                _tracks.Remove(name);
            }
        }
    }
}
