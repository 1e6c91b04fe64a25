import EmendCore
