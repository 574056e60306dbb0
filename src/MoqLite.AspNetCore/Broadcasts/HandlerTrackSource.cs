using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MoqLite.Model;

namespace MoqLite.AspNetCore.Broadcasts;

/// <summary>Backs a declared broadcast: each track starts its handler in a new DI scope on its first subscriber.</summary>
internal sealed partial class HandlerTrackSource(MoqBroadcastBuilder declaration, IServiceScopeFactory scopes, ILogger logger) : IMoqTrackSource
{
    public ValueTask<MoqTrack?> CreateTrackAsync(MoqBroadcast broadcast, string name, CancellationToken cancellationToken)
    {
        if (!declaration.Tracks.TryGetValue(name, out var entry))
        {
            return ValueTask.FromResult<MoqTrack?>(null);
        }
        var track = new MoqTrack(name, entry.Info, timeProvider: broadcast.TimeProvider);
        var stop = new CancellationTokenSource();
        track.Active += t => _ = RunHandlerAsync(t, entry.Handler, stop);
        track.Idle += _ => stop.Cancel();
        return ValueTask.FromResult<MoqTrack?>(track);
    }

    private async Task RunHandlerAsync(MoqTrack track, Type handlerType, CancellationTokenSource stop)
    {
        // Off the subscriber's call stack: the handler may run a long time.
        await Task.Yield();
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var handler = (MoqTrackHandler)ActivatorUtilities.GetServiceOrCreateInstance(scope.ServiceProvider, handlerType);
            try
            {
                Log.HandlerStarted(logger, declaration.Path, track.Name, handlerType.Name);
                await handler.RunAsync(new MoqTrackContext(declaration.Path, track, scope.ServiceProvider), stop.Token).ConfigureAwait(false);
                track.Complete();
            }
            finally
            {
                (handler as IDisposable)?.Dispose();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            track.Complete();
        }
#pragma warning disable CA1031 // A failing handler ends its own track, never the host.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.HandlerFailed(logger, declaration.Path, track.Name, ex);
            track.Abort(MoqErrorCode.Transport);
        }
        finally
        {
            stop.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(111, LogLevel.Debug, "Track '{Broadcast}/{Track}' has a subscriber: starting {Handler}", EventName = "TrackHandlerStarted")]
        public static partial void HandlerStarted(ILogger logger, string broadcast, string track, string handler);

        [LoggerMessage(112, LogLevel.Error, "Track handler for '{Broadcast}/{Track}' failed", EventName = "TrackHandlerFailed")]
        public static partial void HandlerFailed(ILogger logger, string broadcast, string track, Exception exception);
    }
}
