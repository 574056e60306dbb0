namespace MoqLite;

/// <summary>
/// MOQ Lite application error codes, carried in stream resets, STOP_SENDING and connection close.
/// The numbers follow the reference implementation (moq-dev/moq <c>Error::to_code</c>) so that peers agree.
/// </summary>
public enum MoqErrorCode : ulong
{
    /// <summary>The operation was cancelled; also a normal, graceful close.</summary>
    Cancel = 0,
    /// <summary>The peer required an extension this side lacks.</summary>
    RequiredExtension = 1,
    /// <summary>The requested data is too old.</summary>
    Old = 2,
    /// <summary>An operation timed out.</summary>
    Timeout = 3,
    /// <summary>The transport failed.</summary>
    Transport = 4,
    /// <summary>A message could not be decoded.</summary>
    Decode = 5,
    /// <summary>The request is not allowed for this session.</summary>
    Unauthorized = 6,
    /// <summary>No common protocol version.</summary>
    Version = 9,
    /// <summary>A stream of an unexpected type was opened.</summary>
    UnexpectedStream = 10,
    /// <summary>A configured limit was exceeded.</summary>
    BoundsExceeded = 11,
    /// <summary>A duplicate identifier was used.</summary>
    Duplicate = 12,
    /// <summary>The broadcast or track does not exist.</summary>
    NotFound = 13,
    /// <summary>A message had the wrong size.</summary>
    WrongSize = 14,
    /// <summary>The peer broke the protocol; the session is closed with this code.</summary>
    ProtocolViolation = 15,
    /// <summary>A message arrived that was not expected in this state.</summary>
    UnexpectedMessage = 16,
    /// <summary>The request is not supported.</summary>
    Unsupported = 17,
    /// <summary>A message could not be encoded.</summary>
    Encode = 18,
    /// <summary>Too many parameters.</summary>
    TooManyParameters = 19,
    /// <summary>The session role does not permit this.</summary>
    InvalidRole = 20,
    /// <summary>The ALPN or subprotocol is unknown.</summary>
    UnknownAlpn = 21,
    /// <summary>The group was dropped (for example a slow subscriber fell behind).</summary>
    Dropped = 24,
    /// <summary>The resource was closed.</summary>
    Closed = 25,
    /// <summary>The subscriber lagged too far behind.</summary>
    Lagged = 26,
    /// <summary>A frame exceeded the configured maximum size.</summary>
    FrameTooLarge = 27,
    /// <summary>Frame timestamps were inconsistent.</summary>
    TimestampMismatch = 29,
    /// <summary>No route to the requested broadcast.</summary>
    Unroutable = 30,
    /// <summary>The entry was evicted from the cache.</summary>
    Evicted = 31,
}
