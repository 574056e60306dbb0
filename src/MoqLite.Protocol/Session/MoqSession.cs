using MoqLite.Model;
using MoqLite.Transport;

namespace MoqLite.Session;

/// <summary>
/// A MOQ session over one transport connection, in whichever wire dialect was negotiated. Symmetric: it serves
/// the origin's broadcasts to the peer and brings the peer's broadcasts into the origin.
/// </summary>
public abstract class MoqSession : IAsyncDisposable
{
    /// <summary>The negotiated protocol identifier, e.g. <c>moq-lite-05</c>.</summary>
    public abstract string Protocol { get; }

    /// <summary>The underlying transport connection.</summary>
    public abstract MoqTransportConnection Connection { get; }

    /// <summary>The origin this session serves from and publishes into.</summary>
    public abstract MoqOrigin Origin { get; }

    /// <summary>Completes when the session has ended, with how it ended.</summary>
    public abstract Task<MoqCloseInfo> Completion { get; }

    /// <summary>Raised when the peer sends GOAWAY, with the URI it suggests (possibly empty).</summary>
    public event Action<string>? GoawayReceived;

    /// <summary>
    /// A broadcast the peer publishes at <paramref name="path"/> (relative to the session root), whether or not it was
    /// announced. Tracks are requested from the peer when first subscribed.
    /// </summary>
    public abstract MoqBroadcast Consume(string path);

    /// <summary>Announcements the peer makes under <paramref name="prefix"/>, paths relative to it.</summary>
    public abstract IAsyncEnumerable<MoqAnnouncement> AnnouncedAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>Fetches one group of a track from the peer; frames arrive on the returned reader until the group ends.</summary>
    public abstract ValueTask<GroupReader> FetchAsync(string broadcast, string track, ulong group, byte priority = 0, CancellationToken cancellationToken = default);

    /// <summary>Tells the peer to go away, optionally to <paramref name="uri"/>.</summary>
    public abstract ValueTask GoawayAsync(string uri, CancellationToken cancellationToken = default);

    /// <summary>Closes the session with an application code and reason.</summary>
    public abstract ValueTask CloseAsync(MoqErrorCode code = MoqErrorCode.Cancel, string reason = "");

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await CloseAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>Raises <see cref="GoawayReceived"/>.</summary>
    protected void OnGoaway(string uri) => GoawayReceived?.Invoke(uri);
}
