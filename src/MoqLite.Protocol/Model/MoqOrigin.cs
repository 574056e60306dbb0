using System.Security.Cryptography;
using System.Threading.Channels;

namespace MoqLite.Model;

/// <summary>A broadcast became available (<see cref="Active"/>) or went away, at <see cref="Path"/>.</summary>
/// <param name="Path">The broadcast path (relative to the prefix watched, where that applies).</param>
/// <param name="Active">True when announced, false when withdrawn.</param>
/// <param name="Broadcast">The broadcast, when active.</param>
public readonly record struct MoqAnnouncement(string Path, bool Active, MoqBroadcast? Broadcast);

/// <summary>
/// The relay origin: broadcasts published by any session or in-process, and announcement watchers by prefix.
/// Publishing a path that is already live replaces the broadcast, which watchers see as a restart.
/// </summary>
public sealed class MoqOrigin
{
    private readonly object _gate = new();
    private readonly Dictionary<string, MoqBroadcast> _broadcasts = new(StringComparer.Ordinal);
    // Watchers keyed by prefix: a path change notifies the watchers at each of its ancestors, O(depth).
    private readonly Dictionary<string, List<AnnouncementWatcher>> _watchers = new(StringComparer.Ordinal);

    /// <summary>Creates an origin with a random 53-bit id (kept below 2^53 for JavaScript peers).</summary>
    public MoqOrigin() => Id = NewHopId();

    internal static ulong NewHopId()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        return (BitConverter.ToUInt64(bytes) & ((1UL << 53) - 1)) | 1;
    }

    /// <summary>This origin's hop id, sent in ANNOUNCE_OK.</summary>
    public ulong Id { get; }

    /// <summary>Number of live broadcasts.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _broadcasts.Count;
            }
        }
    }

    /// <summary>
    /// Publishes <paramref name="broadcast"/> at <paramref name="path"/> until it closes or the returned handle is disposed.
    /// </summary>
    public IDisposable Publish(string path, MoqBroadcast broadcast)
    {
        ArgumentNullException.ThrowIfNull(broadcast);
        path = MoqPath.Normalize(path);
        lock (_gate)
        {
            _broadcasts[path] = broadcast;
            Notify(path, new MoqAnnouncement(path, true, broadcast));
        }
        broadcast.Closed.ContinueWith(_ => Unpublish(path, broadcast), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return new Publication(this, path, broadcast);
    }

    /// <summary>The broadcast live at <paramref name="path"/>, or null.</summary>
    public MoqBroadcast? TryGetBroadcast(string path)
    {
        lock (_gate)
        {
            return _broadcasts.GetValueOrDefault(MoqPath.Normalize(path));
        }
    }

    /// <summary>
    /// Watches announcements under <paramref name="prefix"/>: first every live broadcast, then changes as they happen.
    /// Paths are reported relative to the prefix. Dispose the watcher to stop.
    /// </summary>
    public AnnouncementWatcher Watch(string prefix)
    {
        prefix = MoqPath.Normalize(prefix);
        var watcher = new AnnouncementWatcher(this, prefix);
        lock (_gate)
        {
            foreach (var (path, broadcast) in _broadcasts)
            {
                if (MoqPath.StripPrefix(path, prefix) is { } suffix)
                {
                    watcher.Post(new MoqAnnouncement(suffix, true, broadcast));
                }
            }
            if (!_watchers.TryGetValue(prefix, out var list))
            {
                _watchers[prefix] = list = [];
            }
            list.Add(watcher);
        }
        return watcher;
    }

    /// <summary>Announcements under <paramref name="prefix"/> as an async stream (live ones first).</summary>
    public async IAsyncEnumerable<MoqAnnouncement> AnnouncedAsync(string prefix, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var watcher = Watch(prefix);
        await foreach (var announcement in watcher.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return announcement;
        }
    }

    internal void RemoveWatcher(AnnouncementWatcher watcher)
    {
        lock (_gate)
        {
            if (_watchers.TryGetValue(watcher.Prefix, out var list) && list.Remove(watcher) && list.Count == 0)
            {
                _watchers.Remove(watcher.Prefix);
            }
        }
    }

    private void Unpublish(string path, MoqBroadcast broadcast)
    {
        lock (_gate)
        {
            if (_broadcasts.TryGetValue(path, out var current) && ReferenceEquals(current, broadcast))
            {
                _broadcasts.Remove(path);
                Notify(path, new MoqAnnouncement(path, false, null));
            }
        }
    }

    private void Notify(string path, MoqAnnouncement announcement)
    {
        var prefix = path;
        while (true)
        {
            if (_watchers.TryGetValue(prefix, out var list))
            {
                var relative = announcement with { Path = MoqPath.StripPrefix(path, prefix)! };
                foreach (var watcher in list)
                {
                    watcher.Post(relative);
                }
            }
            if (prefix.Length == 0)
            {
                break;
            }
            var slash = prefix.LastIndexOf('/');
            prefix = slash < 0 ? string.Empty : prefix[..slash];
        }
    }

    private sealed class Publication(MoqOrigin origin, string path, MoqBroadcast broadcast) : IDisposable
    {
        public void Dispose() => origin.Unpublish(path, broadcast);
    }
}

/// <summary>A live feed of announcements under one prefix; see <see cref="MoqOrigin.Watch"/>.</summary>
public sealed class AnnouncementWatcher : IDisposable
{
    private readonly Channel<MoqAnnouncement> _channel = Channel.CreateUnbounded<MoqAnnouncement>(new() { SingleReader = true });
    private readonly MoqOrigin _origin;

    internal AnnouncementWatcher(MoqOrigin origin, string prefix)
    {
        _origin = origin;
        Prefix = prefix;
    }

    /// <summary>The watched prefix.</summary>
    public string Prefix { get; }

    /// <summary>The announcements, in order.</summary>
    public ChannelReader<MoqAnnouncement> Reader => _channel.Reader;

    /// <summary>Stops watching.</summary>
    public void Dispose()
    {
        _origin.RemoveWatcher(this);
        _channel.Writer.TryComplete();
    }

    internal void Post(MoqAnnouncement announcement) => _channel.Writer.TryWrite(announcement);
}
