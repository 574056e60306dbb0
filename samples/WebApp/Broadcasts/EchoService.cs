using MoqLite.Model;

namespace MoqLite.Samples.WebApp.Broadcasts;

/// <summary>
/// gomoqt's echo example: whatever a client publishes under <c>echo/in/</c> the server re-publishes under
/// <c>echo/out/</c>. The echo shares the original's tracks, so one upstream subscription feeds both names.
/// </summary>
public sealed class EchoService(MoqOrigin origin) : BackgroundService
{
    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var echoes = new Dictionary<string, MoqBroadcast>(StringComparer.Ordinal);
        try
        {
            await foreach (var announcement in origin.AnnouncedAsync("echo/in", stoppingToken).ConfigureAwait(false))
            {
                if (echoes.Remove(announcement.Path, out var previous))
                {
                    previous.Close();
                }
                if (announcement.Active && announcement.Broadcast is { } source)
                {
                    var echo = new MoqBroadcast(new SameTracks(source));
                    echoes[announcement.Path] = echo;
                    origin.Publish(MoqPath.Join("echo/out", announcement.Path), echo);
                }
            }
        }
        finally
        {
            foreach (var echo in echoes.Values)
            {
                echo.Close();
            }
        }
    }

    private sealed class SameTracks(MoqBroadcast source) : IMoqTrackSource
    {
        public ValueTask<MoqTrack?> CreateTrackAsync(MoqBroadcast broadcast, string name, CancellationToken cancellationToken) =>
            source.GetTrackAsync(name, cancellationToken);
    }
}
